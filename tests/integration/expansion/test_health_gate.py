"""Health-aware expansion through the real broker and database: a red `health.changed` on the
account-health topic holds the account's triggers (nothing on the upsell topic, the held ones and why
in the API); a green one releases them, each announced once, also when records come again."""

from __future__ import annotations

import asyncio

import pytest

from tests.infra import Infra
from tests.integration.expansion.harness import running, settings_for
from tests.kafka_utils import wait_for
from tests.unit.expansion.factories import upsell_story

pytestmark = pytest.mark.integration


async def test_red_holds_the_triggers_and_green_releases_each_once(infra: Infra, schema: str, unique: str) -> None:
    account = f"red-{unique}"
    story = upsell_story(account)
    story.health(0.5, "red", 41)
    usage, red = story.events[:-1], story.events[-1:]
    async with running(settings_for(infra, schema=schema, unique=unique), consume=True) as expansion:
        await expansion.produce(red)
        await wait_for(lambda: expansion.applied(1), timeout=60, what="the red health record applied")
        await expansion.produce(usage)
        total = len(story.events)
        await wait_for(lambda: expansion.applied(total), timeout=60, what="every event applied")

        assert await expansion.upsells() == [], "nothing is triggered on a red account"
        assert await expansion.rows("SELECT 1 FROM {s}.opportunities") == []
        reply = await expansion.http.get(f"/v1/accounts/{account}/held-triggers")
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["grade"] == "red" and body["open_alert_ids"] == []
        held = {h["kind"]: h for h in body["held"]}
        assert {"seat_limit", "premium_feature_use", "high_satisfaction"} <= set(held)
        assert held["seat_limit"]["held_reason"] == "held: the account is red (health 41, 2026-06-01)"
        assert held["seat_limit"]["reason"].startswith("10 of 10 seats active")

        story.health(20.5, "green", 78)
        recovery = story.events[-1:]
        await expansion.produce(recovery)
        await wait_for(lambda: expansion.applied(total + 1), timeout=60, what="the green health record applied")
        stored = await expansion.rows("SELECT opportunity_id, kind, as_of, reason FROM {s}.opportunities")
        assert set(held) <= {r.kind for r in stored}
        upsells = await expansion.upsells(at_least=len(stored))
        assert sorted(u["opportunity_id"] for u in upsells) == sorted(r.opportunity_id for r in stored)
        seat = next(u for u in upsells if u["kind"] == "seat_limit")
        assert seat["occurred_at"].startswith("2026-06-21T21:00"), "fired at the recovery, in event time"
        assert seat["reason"].endswith(
            "; held from 2026-06-02 because the account is red (health 41, 2026-06-01), released on recovery")
        after = (await expansion.http.get(f"/v1/accounts/{account}/held-triggers")).json()
        assert after["grade"] == "green" and after["held"] == []

        await expansion.produce(story.events)  # redelivered: changes nothing
        await asyncio.sleep(1.5)
        assert len(await expansion.upsells()) == len(upsells)
