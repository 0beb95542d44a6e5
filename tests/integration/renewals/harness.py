"""The renewals service in-process against the real broker and database, with its own topics,
schema and consumer group per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from services.renewals.inputs import parse_renewals_input
from services.renewals.service import RenewalsService, build_service
from services.renewals.settings import RenewalsSettings
from shared.consumer import BatchContext, ConsumedEvent
from shared.db import unit_of_work
from shared.events import HealthChanged, output_event_to_json
from shared.outbox import Outbox, write_outbox
from shared.settings import TopicSettings
from tests.infra import Infra
from tests.kafka_utils import produce, read_all, wait_for
from tests.services import API_KEYS, READER, started, topics_for

Input = dict[str, Any] | HealthChanged
"""A contract envelope (as a dict) or a health.changed record."""


def settings_for(infra: Infra, *, schema: str, unique: str, **overrides: Any) -> RenewalsSettings:
    return RenewalsSettings(**{
        "service_name": f"renewals-{unique}",
        "kafka_bootstrap": infra.kafka_bootstrap,
        "database_url": infra.database_url,
        "renewals_schema": schema,
        "topics": topics_for(unique),
        "api_keys": API_KEYS,
        "topic_partitions": 3,
        "consumer_max_wait_ms": 50,
        "outbox_idle_poll_s": 0.05,
        **overrides,
    })


def _raw(event: Input) -> bytes:
    return output_event_to_json(event) if isinstance(event, HealthChanged) else orjson.dumps(event)


@dataclass
class Renewals:
    settings: RenewalsSettings
    service: RenewalsService
    http: httpx.AsyncClient

    @property
    def topics(self) -> TopicSettings:
        return self.settings.topics

    async def apply(self, events: Sequence[Input]) -> None:
        """Run the batch handler on `events` in one transaction, as the runner would, without Kafka."""
        consumed = [ConsumedEvent(parse_renewals_input(_raw(e)), "direct", 0, n, _raw(e))
                    for n, e in enumerate(events)]
        outbox = Outbox()
        async with unit_of_work(self.service.runtime.sessions) as session:
            ctx = BatchContext(session=session, outbox=outbox, service="test", dlq_topic=self.topics.dlq)
            await self.service.runner._handler(ctx, consumed)
            assert not ctx.rejected, ctx.rejected
            await write_outbox(session, self.service.tables.plumbing.outbox, outbox.messages)
        self.service.runtime.relay.notify()

    async def produce(self, events: Sequence[Input]) -> None:
        for event in events:
            topic = self.topics.account_health if isinstance(event, HealthChanged) else self.topics.contract
            account_id = event.account_id if isinstance(event, HealthChanged) else event["account_id"]
            await produce(self.settings.kafka_bootstrap, topic, [(account_id, _raw(event))])

    async def rows(self, sql: str, **params: Any) -> list[sa.Row[Any]]:
        async with self.service.runtime.engine.connect() as conn:
            schema = f'"{self.settings.renewals_schema}"'
            return list((await conn.execute(sa.text(sql.replace("{s}", schema)), params)).all())

    async def alerts(self, *, at_least: int = 0, timeout: float = 30) -> list[dict[str, Any]]:
        """The records on the churn-risk topic, once the outbox is empty and there are `at_least`."""
        topic = self.topics.churn_risk

        async def ready() -> bool:
            if (await self.rows("SELECT count(*) FROM {s}.outbox"))[0][0]:
                return False
            return len(await read_all(self.settings.kafka_bootstrap, topic)) >= at_least

        await wait_for(ready, timeout=timeout, what=f"{at_least} records on {topic}")
        return [orjson.loads(r.value) for r in await read_all(self.settings.kafka_bootstrap, topic)]


@asynccontextmanager
async def running(settings: RenewalsSettings, *, consume: bool = False) -> AsyncIterator[Renewals]:
    """The service wired as in ``__main__``: HTTP app in-process, relay running, and the consumer
    too when `consume` (else tests feed the handler with `Renewals.apply`)."""
    service = build_service(settings)
    async with started(service, consume=consume, name="renewals", headers=READER) as http:
        yield Renewals(settings, service, http)
