"""The health service in-process against the real broker and database, with its own topics and schema,
and hand-built event histories (days counted from T0) to feed it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson

from services.health.inbox import PROCESSED_PREFIX
from services.health.service import HealthService, build_service
from services.health.settings import HealthSettings
from shared.events import parse_event, topic_kind
from shared.settings import TopicSettings
from tests import stories
from tests.infra import Infra
from tests.services import API_KEYS, Harness, serving, settings_fields
from tests.stories import at

BUILT_IN_VERSION = 3
"""The built-in scorecards' current version on a fresh schema (0003 added version 2, 0005 version 3)."""


def settings_for(infra: Infra, *, schema: str, unique: str, **overrides: Any) -> HealthSettings:
    return HealthSettings(**{**settings_fields(infra, service="health", unique=unique), "health_schema": schema,
                             "topic_partitions": 3, "health_rescore_interval_s": 3600, **overrides})


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


class Story(stories.Story):
    """One account's events, in the order they are added, with the kinds health's tests need."""
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


class Health(Harness[HealthSettings, HealthService]):
    async def apply(self, events: Sequence[dict[str, Any]]) -> None:
        """Run the batch handler on `events` in one transaction, as the consumer runner would (without
        Kafka in between), and let the relay publish what it emitted."""
        await self.handle([(parse_event(e), orjson.dumps(e)) for e in events])

    async def applied(self, n: int) -> bool:
        """Whether `n` of the canonical topics' records (or more) have been applied. Not every processed id:
        the alert inbox records there the churn-risk records it reads back (health's own alerts among them),
        which would count a test's last events as applied before they are."""
        rows = await self.rows("SELECT count(*) FROM {s}.processed_events WHERE event_id NOT LIKE :inbox",
                               inbox=f"{PROCESSED_PREFIX}%")
        return bool(rows[0][0] >= n)

    async def produce(self, events: Iterable[dict[str, Any]]) -> None:
        """Send events to their canonical topics, as ingest does."""
        await self.produce_by_topic(
            (self.topics.canonical(topic_kind(e["type"])), e["account_id"], orjson.dumps(e)) for e in events)


@asynccontextmanager
async def running(settings: HealthSettings, *, consume: bool = False) -> AsyncIterator[Health]:
    """The service wired as in ``__main__`` (``tests.services.serving``)."""
    async with serving(Health, settings, build_service(settings), consume=consume, name="health") as harness:
        yield harness


