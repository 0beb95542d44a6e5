"""Opportunities closed without a person, through the real broker and database: a contract amendment
on the contract topic that adds the proposed product closes that opportunity as won (and only it);
a person's lost stays lost when the same contract event comes again; an open opportunity left
without progress is stored as lost by expiry at the account's next event."""

from __future__ import annotations

import asyncio

import pytest

from tests.infra import Infra
from tests.integration.expansion.harness import running, settings_for
from tests.kafka_utils import wait_for
from tests.services import WRITER
from tests.unit.expansion.factories import at, upsell_story

pytestmark = pytest.mark.integration



async def test_a_contract_event_adding_the_product_wins_its_opportunity(infra: Infra, schema: str,
                                                                         unique: str) -> None:
    account = f"won-{unique}"
    story = upsell_story(account)
    async with running(settings_for(infra, schema=schema, unique=unique), consume=True) as expansion:
        await expansion.produce(story.events)
        await wait_for(lambda: expansion.applied(len(story.events)), timeout=60, what="the story applied")
        before = {(r.kind, r.product): r for r in await expansion.rows(
            "SELECT opportunity_id, kind, product, stage FROM {s}.opportunities")}
        assert {("premium_feature_use", "planning"), ("seat_limit", "core")} <= set(before)
        seat_id = before["seat_limit", "core"].opportunity_id
        # A person closes the seat proposal as lost before the contract comes.
        reply = await expansion.http.patch(f"/v1/opportunities/{seat_id}", json={"stage": "lost"}, headers=WRITER)
        assert reply.status_code == 200 and reply.json()["closed_by"] == "person", reply.text

        story.contract(25, seats=12, products=("core", "planning"), arr="75000",
                                 event_type="contract.amended")
        await expansion.produce(story.events[-1:])
        await wait_for(lambda: expansion.applied(len(story.events)), timeout=60, what="the amendment applied")

        after = {(r.kind, r.product): r for r in await expansion.rows(
            "SELECT kind, product, stage, closed_by, closed_at, close_reason FROM {s}.opportunities")}
        for key in (("premium_feature_use", "planning"), ("whitespace", "planning")):
            won = after[key]
            assert (won.stage, won.closed_by, won.closed_at) == ("won", "contract", at(25)), key
            assert won.close_reason.endswith("added planning") and "contract.amended" in won.close_reason
        assert (after["seat_limit", "core"].stage, after["seat_limit", "core"].closed_by) == ("lost", "person"), \
            "a person's decision stands"
        untouched = {k for k, r in after.items() if r.closed_by is None}
        assert untouched == {k for k in before if k[1] not in ("planning", "core")}
        assert all(after[k].stage == "open" for k in untouched)

        listed = (await expansion.http.get(f"/v1/accounts/{account}/opportunities")).json()["items"]
        shown = next(o for o in listed if o["kind"] == "premium_feature_use")
        assert shown["stage"] == "won" and shown["closed_by"] == "contract" and shown["expires_at"] is None
        assert f"contract {account}-k1" in shown["close_reason"]

        await expansion.produce(story.events[-1:])  # redelivered: nothing moves again
        await asyncio.sleep(1.0)
        again = {(r.kind, r.product): (r.stage, r.closed_at) for r in await expansion.rows(
            "SELECT kind, product, stage, closed_at FROM {s}.opportunities")}
        assert again == {k: (r.stage, r.closed_at) for k, r in after.items()}

        story.add(200, "usage.recorded", {"user_id": "u0", "feature": "reports"})
        await expansion.produce(story.events[-1:])
        await wait_for(lambda: expansion.applied(len(story.events)), timeout=60, what="the late event applied")
        expired = await expansion.rows("SELECT stage, closed_by, closed_at, as_of FROM {s}.opportunities "
                                       "WHERE closed_by = 'expiry'")
        assert len(expired) == len(untouched)
        assert all(r.stage == "lost" and (r.closed_at - r.as_of).days == 90 for r in expired)
