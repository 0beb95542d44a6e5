"""The renewals service in-process against the real broker and database, with its own topics,
schema and consumer group per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson

from services.renewals.inputs import parse_renewals_input
from services.renewals.service import RenewalsService, build_service
from services.renewals.settings import RenewalsSettings
from shared.events import HealthChanged, output_event_to_json
from tests.infra import Infra
from tests.kafka_utils import produce
from tests.services import Harness, serving, settings_fields

Input = dict[str, Any] | HealthChanged
"""A contract envelope (as a dict) or a health.changed record."""


def settings_for(infra: Infra, *, schema: str, unique: str, **overrides: Any) -> RenewalsSettings:
    return RenewalsSettings(**{**settings_fields(infra, service="renewals", unique=unique),
                               "renewals_schema": schema, "topic_partitions": 3, **overrides})


def _raw(event: Input) -> bytes:
    return output_event_to_json(event) if isinstance(event, HealthChanged) else orjson.dumps(event)


class Renewals(Harness[RenewalsSettings, RenewalsService]):
    async def apply(self, events: Sequence[Input]) -> None:
        """Run the batch handler on `events` in one transaction, as the runner would, without Kafka."""
        await self.handle([(parse_renewals_input(_raw(e)), _raw(e)) for e in events])

    async def produce(self, events: Sequence[Input]) -> None:
        for event in events:
            topic = self.topics.account_health if isinstance(event, HealthChanged) else self.topics.contract
            account_id = event.account_id if isinstance(event, HealthChanged) else event["account_id"]
            await produce(self.settings.kafka_bootstrap, topic, [(account_id, _raw(event))])

    async def alerts(self, *, at_least: int = 0, timeout: float = 30) -> list[dict[str, Any]]:
        """The records on the churn-risk topic, once the outbox is empty and there are `at_least`."""
        return await self.records(self.topics.churn_risk, at_least=at_least, timeout=timeout)


@asynccontextmanager
async def running(settings: RenewalsSettings, *, consume: bool = False) -> AsyncIterator[Renewals]:
    """The service wired as in ``__main__`` (``tests.services.serving``)."""
    async with serving(Renewals, settings, build_service(settings), consume=consume, name="renewals") as harness:
        yield harness
