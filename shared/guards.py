"""What every route does before its own code, in this order, in one place: the route class ``ApiRoute``.

1. Authenticate (401/403) from the headers alone, before a byte of the body is read: a caller without
   the scope learns nothing about what the endpoint accepts, and cannot make it read anything.
2. Refuse text that PostgreSQL cannot store: the NUL character (U+0000) and lone surrogates, in the
   path, the query and JSON bodies (422 with where it was). Left alone they reach asyncpg and fail
   the request with a 500. Refuse query parameters the route does not declare, or a single-valued
   one given twice (422): a misspelt filter must not silently return everything, just as a body
   with an unknown field is refused.
3. Read the body within the route's size limit (413 from Content-Length before reading, or as soon
   as a chunked body goes over), then let FastAPI parse and validate it.

Routes opt out of nothing: ``shared.app.create_app`` refuses a router whose routes are not
``ApiRoute``. A route that reads its body itself (ingest's batch) gets steps 1 and 3 and judges the
body's text per event.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, get_args, get_origin

from fastapi import Request, Response
from fastapi import params as fastapi_params
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect
from starlette.types import Message

from shared.auth import ScopeCheck, authenticate
from shared.errors import ApiError, error_responses

DEFAULT_MAX_BODY_BYTES = 64 * 1024
"""The body limit of a write endpoint that names none: its bodies are a few fields of text."""
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


def bad_text(value: str) -> str | None:
    """Why PostgreSQL cannot store this text, or None when it can."""
    if "\x00" in value:
        return "must not contain the NUL character (U+0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (a lone surrogate cannot be stored)"
    return None


def find_bad_text(document: object) -> tuple[tuple[str, ...], str] | None:
    """The path to the first string (value or key) that ``bad_text`` refuses, and why."""
    # Iterative: JSON may nest deeper than Python's recursion limit.
    pending: list[tuple[object, tuple[str, ...]]] = [(document, ())]
    while pending:
        value, path = pending.pop()
        if isinstance(value, str):
            if (why := bad_text(value)) is not None:
                return path, why
        elif isinstance(value, dict):
            for key, item in value.items():
                if (why := bad_text(str(key))) is not None:
                    return (*path, ascii(key)), why
                pending.append((item, (*path, str(key))))
        elif isinstance(value, list):
            pending.extend((item, (*path, str(index))) for index, item in enumerate(value))
    return None


def _refuse(loc: str, why: str) -> ApiError:
    kind = "null_character" if "NUL" in why else "invalid_unicode"
    return ApiError(422, "the request is not valid", details=[{"loc": loc, "msg": why, "type": kind}])


def check_url_text(request: Request) -> None:
    """422 for a path segment or a query parameter (name or value) that ``bad_text`` refuses."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and (why := bad_text(value)) is not None:
            raise _refuse(f"path.{name}", why)
    if (why := bad_text(request.url.path)) is not None:
        raise _refuse("path", why)
    for name, value in request.query_params.multi_items():
        if (why := bad_text(name) or bad_text(value)) is not None:
            raise _refuse(f"query.{ascii(name)[1:-1]}", why)


def check_query_names(request: Request, *, known: frozenset[str], repeatable: frozenset[str]) -> None:
    """422 for a query parameter the route does not declare, or a single-valued one given twice."""
    seen: set[str] = set()
    for name, _ in request.query_params.multi_items():
        loc = f"query.{ascii(name)[1:-1]}"
        if name not in known:
            message = f"unknown query parameter; this endpoint takes {', '.join(sorted(known)) or 'none'}"
            raise ApiError(422, "the request is not valid",
                           details=[{"loc": loc, "msg": message, "type": "unknown_parameter"}])
        if name in seen and name not in repeatable:
            raise ApiError(422, "the request is not valid",
                           details=[{"loc": loc, "msg": "given more than once", "type": "repeated_parameter"}])
        seen.add(name)


def check_json_text(body: bytes) -> None:
    """422 for a JSON body holding a string that ``bad_text`` refuses. JSON forbids raw control
    characters, so a NUL arrives as a ``\\u`` escape; a surrogate arrives escaped or as the bytes
    ED A0..BF (which Python's JSON parser lets through). A body with neither is not parsed here; a
    body that is not JSON is left to FastAPI's own 422."""
    if b"\\u" not in body and b"\xed" not in body:
        return
    try:
        document = json.loads(body)  # the parser FastAPI uses next, so both see the same strings
    except ValueError:
        return
    found = find_bad_text(document)
    if found is not None:
        path, why = found
        raise _refuse(".".join(("body", *path)), why)


async def read_body(request: Request, *, max_bytes: int) -> bytes:
    """The body, refused with 413 as soon as it is known to be too large: from Content-Length before
    reading anything, else while reading (a chunked body has no Content-Length)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "Content-Length is not a number")
        if int(declared) > max_bytes:
            raise _too_large(f"{declared} bytes", max_bytes)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(f"over {max_bytes} bytes", max_bytes)
            chunks.append(chunk)
    except ClientDisconnect:
        # Nobody reads the answer, but the log shows a refused request, not an unhandled exception.
        raise ApiError(400, f"the client went away after {size} bytes of the body") from None
    return b"".join(chunks)


def _too_large(size: str, max_bytes: int) -> ApiError:
    return ApiError(413, f"the body is {size}; this endpoint takes at most {max_bytes} bytes",
                    details=[{"loc": "body", "msg": f"at most {max_bytes} bytes", "type": "body_too_large"}])


def _with_body(request: Request, body: bytes) -> Request:
    """The same request, its body already read: FastAPI (and a route reading ``request.body()``)
    gets these bytes instead of the consumed stream."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await request.receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


def _takes_many(annotation: Any) -> bool:
    """A list (or set, tuple) parameter, optional or not: ``?tag=a&tag=b`` is how it is given."""
    return any(get_origin(a) in (list, set, tuple) for a in (annotation, *get_args(annotation)))


def _scope_of(endpoint: Callable[..., Any]) -> str | None:
    """The scope of the endpoint's ``ScopeCheck`` dependency, whether a parameter declares it as its
    default (``Depends(require_scope(...))``) or in its ``Annotated`` type (``shared.auth.ReadKey``)."""
    # eval_str: the routes' modules use postponed annotations, and an alias lives in the evaluated type.
    for parameter in inspect.signature(endpoint, eval_str=True).parameters.values():
        for declared in (parameter.default, *getattr(parameter.annotation, "__metadata__", ())):
            if isinstance(declared, fastapi_params.Depends) and isinstance(declared.dependency, ScopeCheck):
                return declared.dependency.scope
    return None


class ApiRoute(APIRoute):
    """A FastAPI route that authenticates, refuses unstorable text and limits its body before FastAPI
    reads anything (see the module's docstring). ``max_body_size`` is this route's body limit
    (write methods default to ``DEFAULT_MAX_BODY_BYTES``)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *, max_body_size: int | None = None,
                 **kwargs: Any) -> None:
        self.required_scope = _scope_of(endpoint)
        methods = {m.upper() for m in kwargs.get("methods") or ()}
        writes = bool(methods & WRITE_METHODS)
        self.body_limit = max_body_size if max_body_size is not None else (
            DEFAULT_MAX_BODY_BYTES if writes else None)
        statuses: list[int] = []
        if self.required_scope is not None:
            statuses += [400, 401, 403, 422]
        if "{" in path:
            statuses.append(404)
        if writes:
            statuses.append(413)
        kwargs["responses"] = {**error_responses(*statuses), **(kwargs.get("responses") or {})}
        # FastAPI's own body limit answers an unread oversized body with a plain-text 413 even where
        # authentication failed first; ours runs after authentication, with the standard error body.
        super().__init__(path, endpoint, max_body_size=None, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        scope, limit, parses_json = self.required_scope, self.body_limit, self.body_field is not None
        query = self.dependant.query_params
        known = frozenset(f.alias for f in query)
        repeatable = frozenset(f.alias for f in query if _takes_many(f.field_info.annotation))

        async def guarded(request: Request) -> Response:
            if scope is not None:
                authenticate(request, scope)
            check_url_text(request)
            if scope is not None:  # the API's endpoints; /healthz and the like stay lenient for probes
                check_query_names(request, known=known, repeatable=repeatable)
            if limit is not None:
                body = await read_body(request, max_bytes=limit)
                if parses_json:
                    check_json_text(body)
                request = _with_body(request, body)
            return await handler(request)

        return guarded


class ConcurrencyLimit:
    """At most `limit` requests at once through ``slot()`` (per process); the next is refused with
    429 and Retry-After instead of queueing work that would only make every caller slower."""

    def __init__(self, limit: int, *, what: str, retry_after_s: int = 5) -> None:
        if limit < 1:
            raise ValueError("a concurrency limit is at least 1")
        self._semaphore = asyncio.BoundedSemaphore(limit)
        self._limit = limit
        self._what = what
        self._retry_after_s = retry_after_s

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._semaphore.locked():
            raise ApiError(429, f"{self._limit} {self._what} already running; retry in {self._retry_after_s} s",
                           headers={"Retry-After": str(self._retry_after_s)})
        async with self._semaphore:
            yield
