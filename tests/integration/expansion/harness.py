"""The expansion service in-process against the real broker and database, with its own topics,
schema and consumer group per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from services.expansion.domain import GATE_EVENT_TYPES
from services.expansion.inputs import parse_expansion_input
from services.expansion.service import ExpansionService, build_service
from services.expansion.settings import ExpansionSettings
from shared.consumer import BatchContext, ConsumedEvent
from shared.db import unit_of_work
from shared.events import topic_kind
from shared.outbox import Outbox, write_outbox
from shared.settings import TopicSettings
from tests.infra import Infra
from tests.kafka_utils import produce, read_all, wait_for
from tests.services import API_KEYS, READER, started, topics_for


def settings_for(infra: Infra, *, schema: str, unique: str, **overrides: Any) -> ExpansionSettings:
    return ExpansionSettings(**{
        "service_name": f"expansion-{unique}",
        "kafka_bootstrap": infra.kafka_bootstrap,
        "database_url": infra.database_url,
        "expansion_schema": schema,
        "topics": topics_for(unique),
        "api_keys": API_KEYS,
        "topic_partitions": 3,
        "consumer_max_wait_ms": 50,
        "outbox_idle_poll_s": 0.05,
        **overrides,
    })


@dataclass
class Expansion:
    settings: ExpansionSettings
    service: ExpansionService
    http: httpx.AsyncClient

    @property
    def topics(self) -> TopicSettings:
        return self.settings.topics

    async def apply(self, events: Sequence[dict[str, Any]]) -> None:
        """Run the batch handler on `events` in one transaction, as the runner would, without Kafka."""
        raws = [orjson.dumps(e) for e in events]
        consumed = [ConsumedEvent(parse_expansion_input(raw), "direct", 0, n, raw) for n, raw in enumerate(raws)]
        outbox = Outbox()
        async with unit_of_work(self.service.runtime.sessions) as session:
            ctx = BatchContext(session=session, outbox=outbox, service="test", dlq_topic=self.topics.dlq)
            await self.service.runner._handler(ctx, consumed)
            assert not ctx.rejected, ctx.rejected
            await write_outbox(session, self.service.tables.plumbing.outbox, outbox.messages)
        self.service.runtime.relay.notify()

    async def produce(self, events: Iterable[dict[str, Any]]) -> None:
        by_topic: dict[str, list[tuple[str, bytes]]] = {}
        for e in events:
            by_topic.setdefault(self._topic_of(e["type"]), []).append((e["account_id"], orjson.dumps(e)))
        for topic, records in by_topic.items():
            await produce(self.settings.kafka_bootstrap, topic, records)

    def _topic_of(self, event_type: str) -> str:
        """Where the event travels: its canonical topic, or the health service's and renewals' outputs."""
        if event_type not in GATE_EVENT_TYPES:
            return self.topics.canonical(topic_kind(event_type))
        return self.topics.account_health if event_type == "health.changed" else self.topics.churn_risk

    async def rows(self, sql: str, **params: Any) -> list[sa.Row[Any]]:
        async with self.service.runtime.engine.connect() as conn:
            schema = f'"{self.settings.expansion_schema}"'
            return list((await conn.execute(sa.text(sql.replace("{s}", schema)), params)).all())

    async def applied(self, n: int) -> bool:
        """Whether `n` records (or more) have been applied: one processed event each."""
        return bool((await self.rows("SELECT count(*) FROM {s}.processed_events"))[0][0] >= n)

    async def upsells(self, *, at_least: int = 0, timeout: float = 30) -> list[dict[str, Any]]:
        """The records on the upsell topic, once the outbox is empty and there are `at_least`."""
        topic = self.topics.upsell

        async def ready() -> bool:
            if (await self.rows("SELECT count(*) FROM {s}.outbox"))[0][0]:
                return False
            return len(await read_all(self.settings.kafka_bootstrap, topic)) >= at_least

        await wait_for(ready, timeout=timeout, what=f"{at_least} records on {topic}")
        return [orjson.loads(r.value) for r in await read_all(self.settings.kafka_bootstrap, topic)]


@asynccontextmanager
async def running(settings: ExpansionSettings, *, consume: bool = False) -> AsyncIterator[Expansion]:
    """The service wired as in ``__main__``: HTTP app in-process, relay running, and the consumer
    too when `consume` (else tests feed the handler with `Expansion.apply`)."""
    service = build_service(settings)
    async with started(service, consume=consume, name="expansion", headers=READER) as http:
        yield Expansion(settings, service, http)


