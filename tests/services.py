"""What every service's integration harness shares: per-test topics, settings and API keys, the service
wired as in its ``__main__`` with its HTTP app in-process, and (`Harness`) what a test does with a
downstream service: apply a batch to its handler, produce to its topics, read its schema and what
its outbox published."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import httpx
import orjson
import sqlalchemy as sa
from fastapi import FastAPI

from shared.auth import secret_digest
from shared.consumer import ConsumedEvent, ConsumerRunner
from shared.db import PlumbingTables
from shared.events import Envelope
from shared.runtime import Runtime
from shared.settings import OrchardSettings, TopicSettings
from tests.infra import Infra
from tests.kafka_utils import produce, read_all, wait_for

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


def settings_fields(infra: Infra, *, service: str, unique: str) -> dict[str, Any]:
    """The settings of a service's test instance: its own name and topics, the test keys, and short
    waits (a test's batches are small and it waits for what they publish)."""
    return {
        "service_name": f"{service}-{unique}",
        "kafka_bootstrap": infra.kafka_bootstrap,
        "database_url": infra.database_url,
        "topics": topics_for(unique),
        "api_keys": API_KEYS,
        "consumer_max_wait_ms": 50,
        "outbox_idle_poll_s": 0.05,
    }


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


class _Tables(Protocol):
    @property
    def schema(self) -> str: ...
    @property
    def plumbing(self) -> PlumbingTables: ...


class DownstreamService(Service, Protocol):
    @property
    def tables(self) -> _Tables: ...


S = TypeVar("S", bound=OrchardSettings)
V = TypeVar("V", bound=Service)
D = TypeVar("D", bound=DownstreamService)


@dataclass
class Running(Generic[S, V]):
    """A service running in-process: its settings, its parts, an HTTP client on its app."""

    settings: S
    service: V
    http: httpx.AsyncClient

    @property
    def topics(self) -> TopicSettings:
        return self.settings.topics


class Harness(Running[S, D]):
    """A running downstream service (health, renewals, expansion) and what its tests do with it."""

    @property
    def schema(self) -> str:
        return self.service.tables.schema

    async def handle(self, records: Sequence[tuple[Envelope, bytes]]) -> None:
        """Apply the parsed `records` as one batch of the service's consumer runner (processed ids,
        handler, outbox, one transaction; without Kafka in between), and let the relay publish what it
        emitted. None may be rejected."""
        consumed = [ConsumedEvent(parsed, "direct", 0, n, raw) for n, (parsed, raw) in enumerate(records)]
        applied = await self.service.runner.apply_batch(consumed)
        assert not applied.rejected, applied.rejected

    async def produce_by_topic(self, records: Iterable[tuple[str, str, bytes]]) -> None:
        """Send (topic, key, value) records, one producer call per topic, each topic's in their order."""
        by_topic: dict[str, list[tuple[str, bytes]]] = {}
        for topic, key, value in records:
            by_topic.setdefault(topic, []).append((key, value))
        for topic, keyed in by_topic.items():
            await produce(self.settings.kafka_bootstrap, topic, keyed)

    async def rows(self, sql: str, **params: Any) -> list[sa.Row[Any]]:
        """The rows of `sql`, where ``{s}`` stands for the service's schema."""
        async with self.service.runtime.engine.connect() as conn:
            return list((await conn.execute(sa.text(sql.replace("{s}", f'"{self.schema}"')), params)).all())

    async def applied(self, n: int) -> bool:
        """Whether `n` records (or more) have been applied: one processed event each."""
        return bool((await self.rows("SELECT count(*) FROM {s}.processed_events"))[0][0] >= n)

    async def records(self, topic: str, *, at_least: int = 0, timeout: float = 30) -> list[dict[str, Any]]:
        """The values on `topic`, once there are at least `at_least` of them and the outbox is empty."""
        async def ready() -> bool:
            if (await self.rows("SELECT count(*) FROM {s}.outbox"))[0][0]:
                return False
            return len(await read_all(self.settings.kafka_bootstrap, topic)) >= at_least

        await wait_for(ready, timeout=timeout, what=f"{at_least} records on {topic}")
        return [orjson.loads(r.value) for r in await read_all(self.settings.kafka_bootstrap, topic)]


R = TypeVar("R", bound=Running[Any, Any])


@asynccontextmanager
async def serving(
    running: Callable[[S, V, httpx.AsyncClient], R], settings: S, service: V, *, consume: bool, name: str,
    headers: dict[str, str] | None = READER,
) -> AsyncIterator[R]:
    """The service wired as in its ``__main__``: its HTTP app in-process (as the reader unless
    `headers` say otherwise), its relay running, and its consumer too when `consume` (else tests feed a
    downstream service's handler with `Harness.handle`)."""
    async with started(service, consume=consume, name=name, headers=headers) as http:
        yield running(settings, service, http)


async def all_pages(http: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list endpoint, following `next_cursor` page by page (each page must be a 200)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        reply = await http.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert reply.status_code == 200, reply.text
        page = reply.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
