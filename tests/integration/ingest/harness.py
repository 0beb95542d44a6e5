"""The ingest service in-process against the real broker and database, with its own topics and schema."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from services.ingest.service import IngestService, build_service
from services.ingest.settings import IngestSettings
from tests.infra import Infra
from tests.kafka_utils import read_all, wait_for
from tests.services import INGEST_WRITER, Running, serving, settings_fields

WRITER = INGEST_WRITER


def settings_for(infra: Infra, *, schema: str, unique: str, **overrides: Any) -> IngestSettings:
    return IngestSettings(**{**settings_fields(infra, service="ingest", unique=unique), "ingest_schema": schema,
                             **overrides})


class Ingest(Running[IngestSettings, IngestService]):
    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap

    async def post(self, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post("/v1/events", content=orjson.dumps(body), headers=headers or WRITER)

    async def produce_raw(self, records: Iterable[tuple[str | None, bytes]]) -> None:
        await produce_large(self.bootstrap, self.topics.raw, records)

    async def canonical(self) -> dict[str, list[Any]]:
        """Every record on the three canonical topics now."""
        return {
            kind: await read_all(self.bootstrap, self.topics.canonical(kind))
            for kind in ("usage", "interaction", "contract")
        }

    async def wait_for_records(self, topic: str, n: int, *, timeout: float = 30) -> list[Any]:
        async def enough() -> bool:
            return len(await read_all(self.bootstrap, topic)) >= n

        await wait_for(enough, timeout=timeout, what=f"{n} records on {topic}")
        await asyncio.sleep(0.3)  # a copy too many, if there were one, would have arrived by now
        return await read_all(self.bootstrap, topic)


@asynccontextmanager
async def running(settings: IngestSettings, *, consume: bool = True) -> AsyncIterator[Ingest]:
    """The service wired as in ``__main__``, its HTTP app in-process, its consumer and relay running."""
    service = build_service(settings)
    async with serving(Ingest, settings, service, consume=consume, name="ingest", headers=None) as ingest:
        yield ingest


async def produce_large(bootstrap: str, topic: str, records: Iterable[tuple[str | None, bytes]]) -> None:
    """Like ``tests.kafka_utils.produce``, with room for records over 1 MiB."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, max_request_size=4 << 20
    )
    await producer.start()
    try:
        sent = [
            await producer.send(topic, value=value, key=key.encode() if key is not None else None)
            for key, value in records
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def event_ids(records: Iterable[Any]) -> list[str]:
    return [orjson.loads(r.value)["event_id"] for r in records]
