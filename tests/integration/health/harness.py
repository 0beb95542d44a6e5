"""The health service in-process against the real broker and database, with its own topics and schema,
and hand-built event histories (days counted from T0) to feed it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from services.health.service import HealthService, build_service
from services.health.settings import HealthSettings
from shared.consumer import BatchContext, ConsumedEvent
from shared.db import unit_of_work
from shared.events import parse_event, topic_kind
from shared.outbox import Outbox, write_outbox
from shared.settings import TopicSettings
from tests.infra import Infra
from tests.kafka_utils import produce, read_all, wait_for
from tests.services import API_KEYS, READER, started, topics_for

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


BUILT_IN_VERSION = 3
"""The built-in scorecards' current version on a fresh schema (0003 added version 2, 0005 version 3)."""


def at(day: float) -> datetime:
    return T0 + timedelta(days=day)


def settings_for(infra: Infra, *, schema: str, unique: str, **overrides: Any) -> HealthSettings:
    return HealthSettings(**{
        "service_name": f"health-{unique}",
        "kafka_bootstrap": infra.kafka_bootstrap,
        "database_url": infra.database_url,
        "health_schema": schema,
        "topics": topics_for(unique),
        "api_keys": API_KEYS,
        "topic_partitions": 3,
        "consumer_max_wait_ms": 50,
        "outbox_idle_poll_s": 0.05,
        "health_rescore_interval_s": 3600,
        **overrides,
    })


def settings_env(settings: HealthSettings) -> dict[str, str]:
    """The same settings as ``ORCHARD_*`` variables, for a worker process."""
    env = {
        "ORCHARD_SERVICE_NAME": settings.service_name,
        "ORCHARD_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "ORCHARD_DATABASE_URL": settings.database_dsn,
        "ORCHARD_HEALTH_SCHEMA": settings.health_schema,
        "ORCHARD_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "ORCHARD_CONSUMER_MAX_RECORDS": str(settings.consumer_max_records),
        "ORCHARD_CONSUMER_MAX_WAIT_MS": str(settings.consumer_max_wait_ms),
        "ORCHARD_OUTBOX_IDLE_POLL_S": str(settings.outbox_idle_poll_s),
        "ORCHARD_API_KEYS": orjson.dumps(API_KEYS).decode(),
    }
    for name in TopicSettings.model_fields:
        env[f"ORCHARD_TOPIC_{name.upper()}"] = getattr(settings.topics, name)
    return env


@dataclass
class Story:
    """One account's events, in the order they are added."""

    account_id: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, day: float, event_type: str, data: dict[str, Any]) -> str:
        event_id = f"{self.account_id}-{len(self.events):05d}"
        self.events.append({"event_id": event_id, "type": event_type, "schema_version": 1,
                            "account_id": self.account_id, "occurred_at": at(day).isoformat(), "data": data})
        return event_id

    def contract(self, day: float, *, seats: int = 20, arr: str = "120000", segment: str | None = "enterprise",
                 end_day: int = 400) -> str:
        return self.add(day, "contract.signed", {
            "contract_id": f"{self.account_id}-k1", "arr": arr, "seats": seats, "products": ["core"],
            "start_date": at(day).date().isoformat(), "end_date": at(end_day).date().isoformat(),
            "segment": segment})

    def usage(self, first_day: int, last_day: int, users: int, *, every: int = 3) -> None:
        for day in range(first_day, last_day + 1):
            for user in range(users):
                if (day + user) % every == 0:
                    self.add(day + 0.1 + user / 1000, "usage.recorded",
                             {"user_id": f"u{user}", "feature": ("reports", "dashboards", "alerts")[user % 3]})

    def contact(self, day: float, contact_id: str, role: str, change: str = "joined") -> str:
        return self.add(day, "contact.changed", {"contact_id": contact_id, "role": role, "change": change})

    def interaction(self, day: float, *, channel: str = "call", direction: str | None = "inbound",
                    contact_id: str | None = "c0", sentiment: float | None = None) -> str:
        return self.add(day, "interaction.logged", {"channel": channel, "direction": direction,
                                                    "contact_id": contact_id, "sentiment": sentiment})

    def survey(self, day: float, kind: str, score: int) -> str:
        return self.add(day, "survey.answered", {"kind": kind, "score": score})

    def since(self, count: int) -> list[dict[str, Any]]:
        """The events added after the first `count`."""
        return self.events[count:]

    def in_time_order(self) -> list[dict[str, Any]]:
        """The events as a live feed sends them (added later but older events would arrive late)."""
        return sorted(self.events, key=lambda e: (e["occurred_at"], e["event_id"]))


def healthy(account_id: str, *, days: int = 60, segment: str | None = "enterprise", seats: int = 20) -> Story:
    """A customer with steady usage, weekly calls with three contacts, a champion and a sponsor, NPS 9."""
    story = Story(account_id)
    story.contract(0, seats=seats, segment=segment)
    story.contact(0, "c0", "champion")
    story.contact(0, "c1", "exec_sponsor")
    story.contact(0, "c2", "user")
    story.usage(1, days, 15)
    for day in range(2, days + 1, 7):
        story.interaction(day + 0.5, contact_id=f"c{day % 3}", sentiment=0.5)
    story.interaction(3, channel="qbr", contact_id="c1")
    story.survey(days - 5, "nps", 9)
    return story


@dataclass
class Health:
    settings: HealthSettings
    service: HealthService
    http: httpx.AsyncClient

    @property
    def topics(self) -> TopicSettings:
        return self.settings.topics

    @property
    def schema(self) -> str:
        return self.settings.health_schema

    async def apply(self, events: Sequence[dict[str, Any]]) -> None:
        """Run the batch handler on `events` in one transaction, as the consumer runner would (without
        Kafka in between), and let the relay publish what it emitted."""
        consumed = [ConsumedEvent(parse_event(e), "direct", 0, n, orjson.dumps(e)) for n, e in enumerate(events)]
        outbox = Outbox()
        async with unit_of_work(self.service.runtime.sessions) as session:
            ctx = BatchContext(session=session, outbox=outbox, service="test", dlq_topic=self.topics.dlq)
            await self.service.runner._handler(ctx, consumed)
            assert not ctx.rejected, ctx.rejected
            await write_outbox(session, self.service.tables.plumbing.outbox, outbox.messages)
        self.service.runtime.relay.notify()

    async def produce(self, events: Iterable[dict[str, Any]]) -> None:
        """Send events to their canonical topics, as ingest does."""
        by_topic: dict[str, list[tuple[str, bytes]]] = {}
        for e in events:
            topic = self.topics.canonical(topic_kind(e["type"]))
            by_topic.setdefault(topic, []).append((e["account_id"], orjson.dumps(e)))
        for topic, records in by_topic.items():
            await produce(self.settings.kafka_bootstrap, topic, records)

    async def rows(self, sql: str, **params: Any) -> list[sa.Row[Any]]:
        async with self.service.runtime.engine.connect() as conn:
            return list((await conn.execute(sa.text(sql.replace("{s}", f'"{self.schema}"')), params)).all())

    async def records(self, topic: str, *, at_least: int = 0, timeout: float = 30) -> list[dict[str, Any]]:
        """The values on `topic`, once there are at least `at_least` of them and the outbox is empty."""
        async def ready() -> bool:
            pending = await self.rows("SELECT count(*) FROM {s}.outbox")
            if pending[0][0]:
                return False
            return len(await read_all(self.settings.kafka_bootstrap, topic)) >= at_least

        await wait_for(ready, timeout=timeout, what=f"{at_least} records on {topic}")
        return [orjson.loads(r.value) for r in await read_all(self.settings.kafka_bootstrap, topic)]


@asynccontextmanager
async def running(settings: HealthSettings, *, consume: bool = False) -> AsyncIterator[Health]:
    """The service wired as in ``__main__``: its HTTP app in-process, its relay running, and its
    consumer too when `consume` (else tests feed the handler with `Health.apply`)."""
    service = build_service(settings)
    async with started(service, consume=consume, name="health", headers=READER) as http:
        yield Health(settings, service, http)


