"""Events in through the real canonical topics; opportunities in Postgres; exactly one
upsell.triggered per opportunity on the real topic, also after the same events come again and
after a replay of the derived state."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from shared.replay import derived_tables
from tests.infra import Infra
from tests.integration.expansion.harness import running, settings_for
from tests.kafka_utils import wait_for
from tests.unit.expansion.factories import steady_story, upsell_story

pytestmark = pytest.mark.integration


async def test_events_in_opportunities_stored_and_each_upsell_triggered_once_across_redelivery_and_replay(
    infra: Infra, schema: str, unique: str
) -> None:
    up, steady = upsell_story(f"up-{unique}"), steady_story(f"steady-{unique}")
    events = up.events + steady.events
    async with running(settings_for(infra, schema=schema, unique=unique), consume=True) as expansion:
        await expansion.produce(events)
        await wait_for(lambda: expansion.applied(len(events)), timeout=60, what="every event applied")
        stored = await expansion.rows("SELECT opportunity_id, account_id, kind, product, stage FROM {s}.opportunities")
        assert {r.account_id for r in stored} == {up.account_id}, "the steady account has nothing to sell"
        assert {"seat_limit", "premium_feature_use", "high_satisfaction"} <= {r.kind for r in stored}
        assert all(r.stage == "open" for r in stored)

        upsells = await expansion.upsells(at_least=len(stored))
        assert sorted(u["opportunity_id"] for u in upsells) == sorted(r.opportunity_id for r in stored)
        seat = next(u for u in upsells if u["kind"] == "seat_limit")
        assert seat["type"] == "upsell.triggered" and seat["account_id"] == up.account_id
        # Decided at the event that first put 9 of the 10 users in the window, whatever the batch held
        assert seat["product"] == "core" and seat["reason"].startswith("9 of 10 seats active")
        assert seat["estimated_arr_uplift"] == "600.00" and 0 < seat["confidence"] <= 1
        assert seat["evidence_event_ids"] and "2026-06-02" <= seat["occurred_at"] <= "2026-06-22"

        await expansion.produce(events)  # redelivered: the processed-events table drops them
        await asyncio.sleep(1.5)
        assert len(await expansion.upsells()) == len(upsells)

    # A replay empties the derived tables (accounts, processed_events) and re-reads the events:
    # the opportunities are kept, so nothing is raised or announced again.
    async with running(settings_for(infra, schema=schema, unique=unique)) as expansion:
        tables = derived_tables(schema=schema, hook_module="services.expansion.store")
        assert {t.name for t in tables} == {"processed_events", "accounts", "stream_watermarks"}
        async with expansion.service.runtime.engine.begin() as conn:
            await conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t.schema}"."{t.name}"' for t in tables)))
        await expansion.apply(events)
        await asyncio.sleep(1.0)
        assert len(await expansion.upsells()) == len(upsells)
        assert len(await expansion.rows("SELECT 1 FROM {s}.opportunities")) == len(stored)
