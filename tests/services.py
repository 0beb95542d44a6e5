"""What every service's integration harness shares: per-test topics, test API keys, and the service
wired as in its ``__main__`` with its HTTP app in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx
from fastapi import FastAPI

from shared.auth import secret_digest
from shared.consumer import ConsumerRunner
from shared.runtime import Runtime
from shared.settings import TopicSettings

SECRETS = {"reader": "reader-key", "writer": "writer-key", "ingest": "ingest-key"}
"""Each test key's name (its audit identity) and secret (what a caller sends)."""
SCOPES = {"reader": ["read"], "writer": ["read", "write"], "ingest": ["ingest:write"]}
API_KEYS = {name: {"sha256": secret_digest(secret), "scopes": SCOPES[name]} for name, secret in SECRETS.items()}
"""The services' ``api_keys`` in the preferred form: named, with only the digest of each secret."""


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRETS[name]}"}


READER = bearer("reader")
WRITER = bearer("writer")
INGEST_WRITER = bearer("ingest")


def topics_for(unique: str) -> TopicSettings:
    """Every topic of the contract under a name of this test's own."""
    return TopicSettings(**{name: f"t.{name}.{unique}" for name in TopicSettings.model_fields})


class Service(Protocol):
    @property
    def runtime(self) -> Runtime: ...
    @property
    def runner(self) -> ConsumerRunner: ...
    @property
    def app(self) -> FastAPI: ...


@asynccontextmanager
async def started(
    service: Service, *, consume: bool, name: str, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """Start the service's runtime and relay (and its consumer when `consume`), yield an HTTP client
    on its app, and stop it all gracefully afterwards."""
    await service.runtime.start()
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(service.runtime.relay.run())]
    if consume:  # every runner the service has (health has a second one, its alert inbox)
        tasks += [asyncio.create_task(runner.run()) for runner in service.runtime.runners]
    try:
        transport = httpx.ASGITransport(app=service.app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}", headers=headers) as http:
            yield http
    finally:
        for runner in service.runtime.runners:
            runner.stop()
        service.runtime.relay.stop()
        await asyncio.gather(*tasks)
        await service.runtime.close()
