"""The expansion service in-process against the real broker and database, with its own topics,
schema and consumer group per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson

from services.expansion.domain import GATE_EVENT_TYPES
from services.expansion.inputs import parse_expansion_input
from services.expansion.service import ExpansionService, build_service
from services.expansion.settings import ExpansionSettings
from shared.events import topic_kind
from tests.infra import Infra
from tests.services import Harness, serving, settings_fields


def settings_for(infra: Infra, *, schema: str, unique: str, **overrides: Any) -> ExpansionSettings:
    return ExpansionSettings(**{**settings_fields(infra, service="expansion", unique=unique),
                                "expansion_schema": schema, "topic_partitions": 3, **overrides})


class Expansion(Harness[ExpansionSettings, ExpansionService]):
    async def apply(self, events: Sequence[dict[str, Any]]) -> None:
        """Run the batch handler on `events` in one transaction, as the runner would, without Kafka."""
        raws = [orjson.dumps(e) for e in events]
        await self.handle([(parse_expansion_input(raw), raw) for raw in raws])

    async def produce(self, events: Iterable[dict[str, Any]]) -> None:
        await self.produce_by_topic((self._topic_of(e["type"]), e["account_id"], orjson.dumps(e)) for e in events)

    def _topic_of(self, event_type: str) -> str:
        """Where the event travels: its canonical topic, or the health service's and renewals' outputs."""
        if event_type not in GATE_EVENT_TYPES:
            return self.topics.canonical(topic_kind(event_type))
        return self.topics.account_health if event_type == "health.changed" else self.topics.churn_risk

    async def upsells(self, *, at_least: int = 0, timeout: float = 30) -> list[dict[str, Any]]:
        """The records on the upsell topic, once the outbox is empty and there are `at_least`."""
        return await self.records(self.topics.upsell, at_least=at_least, timeout=timeout)


@asynccontextmanager
async def running(settings: ExpansionSettings, *, consume: bool = False) -> AsyncIterator[Expansion]:
    """The service wired as in ``__main__`` (``tests.services.serving``)."""
    async with serving(Expansion, settings, build_service(settings), consume=consume, name="expansion") as harness:
        yield harness


