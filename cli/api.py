"""The services' HTTP APIs as the CLI uses them: one client, the bearer key, and every failure turned
into a sentence that says what to do (service down, key refused, a request the service refused)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from cli.config import Config, ServiceName
from cli.errors import CliError

# The contract's maximum page size: fewest round trips when a command wants a whole list.
MAX_PAGE = 500
NOT_FOUND = frozenset({404})


def error_message(response: httpx.Response) -> str:
    """The message of Orchard's error body (``{"error": {"message", "details"}}``), else the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return str(body)[:300]
    details = "; ".join(f"{d.get('loc')}: {d.get('msg')}" if isinstance(d, dict) else str(d)
                        for d in error.get("details") or [])
    return str(error.get("message", "")) + (f" ({details})" if details else "")


class Api:
    def __init__(self, config: Config, http: httpx.AsyncClient) -> None:
        self.config = config
        self._http = http

    async def request(self, service: ServiceName, method: str, path: str, *, params: dict[str, Any] | None = None,
                      content: bytes | None = None, passthrough: frozenset[int] = frozenset()) -> httpx.Response:
        """The response, or ``CliError`` for a service that cannot be reached or refuses; a status in
        `passthrough` (e.g. 404 where absence is an answer) is returned as it is."""
        url = self.config.url(service) + path
        headers = {"Content-Type": "application/json"} if content is not None else None
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = await self._http.request(method, url, params=query, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            raise CliError(f"{service} at {self.config.url(service)} did not answer within "
                           f"{self.config.timeout_s:g} s ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise CliError(
                f"cannot reach {service} at {self.config.url(service)} ({exc or type(exc).__name__})",
                hint=f"Is it running? `make run` starts every service; --{service}-url or "
                     f"ORCHARD_{service.upper()}_URL points elsewhere.") from exc
        if response.is_success or response.status_code in passthrough:
            return response
        raise self._refusal(service, response)

    def _refusal(self, service: ServiceName, response: httpx.Response) -> CliError:
        message = error_message(response)
        if response.status_code == 401:
            given = "no key was given" if not self.config.api_key else "the key given is not known there"
            return CliError(f"{service} refused the request: {message} ({given})",
                            hint="Give an API key with --api-key or ORCHARD_API_KEY (`make run` uses dev-key).")
        if response.status_code == 403:
            return CliError(f"{service} refused the request: {message}",
                            hint="Use a key with that scope (read for looking, ingest:write for sending).")
        return CliError(f"{service} answered {response.status_code} to {response.request.method} "
                        f"{response.request.url.path}: {message}")

    async def get(self, service: ServiceName, path: str, **params: Any) -> Any:
        return (await self.request(service, "GET", path, params=params)).json()

    async def get_or_none(self, service: ServiceName, path: str, **params: Any) -> Any | None:
        """The body, or None when the service answers 404 (no such account, renewal, route)."""
        response = await self.request(service, "GET", path, params=params, passthrough=NOT_FOUND)
        return None if response.status_code == 404 else response.json()

    async def items(self, service: ServiceName, path: str, *, limit: int | None = None,
                    **params: Any) -> list[dict[str, Any]]:
        """A list endpoint's items, following the cursor up to `limit` items (all when None)."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while limit is None or len(items) < limit:
            page_size = MAX_PAGE if limit is None else min(MAX_PAGE, limit - len(items))
            page = await self.get(service, path, **params, limit=page_size, cursor=cursor)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return items


@asynccontextmanager
async def connect(config: Config) -> AsyncIterator[Api]:
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    async with httpx.AsyncClient(headers=headers, timeout=config.timeout_s) as http:
        yield Api(config, http)
