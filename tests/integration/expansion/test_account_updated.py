"""account.updated reaches expansion on the interaction topic; expansion does not use it, and skips
it cleanly: recorded as processed, nothing dead-lettered."""

from __future__ import annotations

import pytest

from tests.infra import Infra
from tests.integration.expansion.harness import Expansion, running, settings_for
from tests.kafka_utils import read_all, wait_for
from tests.unit.ingest.factories import make_event

pytestmark = pytest.mark.integration


async def _processed(expansion: Expansion) -> set[str]:
    return {row[0] for row in await expansion.rows("SELECT event_id FROM {s}.processed_events")}


async def test_account_updated_is_consumed_without_a_dead_letter(infra: Infra, schema: str, unique: str) -> None:
    account = f"acct-{unique}"
    events = [
        make_event("contract.signed", account_id=account, occurred_at="2026-11-01T09:00:00Z"),
        make_event("account.updated", account_id=account, data={"tier": "gold", "crm_id": None}),
        make_event("usage.recorded", account_id=account, occurred_at="2026-11-20T10:00:00Z"),
    ]
    async with running(settings_for(infra, schema=schema, unique=unique), consume=True) as expansion:
        await expansion.produce(events)

        async def all_processed() -> bool:
            return {e["event_id"] for e in events} <= await _processed(expansion)

        await wait_for(all_processed, timeout=60, what="every event processed")
        assert await read_all(expansion.settings.kafka_bootstrap, expansion.topics.dlq, settle_s=0.5) == []
        (signals,) = await expansion.rows("SELECT account_id FROM {s}.accounts WHERE account_id = :a", a=account)
        assert signals.account_id == account
