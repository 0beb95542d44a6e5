"""revenue_health_divergence through the real broker and database: contract events on the contract
topic and health records on the account-health topic in; one `churn_risk.raised` of that kind on the
churn-risk topic out, with its deterministic id, and no second one when the records come again. Its
own record coming back on the churn-risk topic does not hold the account's upsell triggers."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from services.expansion.domain.divergence import alert_id
from shared.events import deterministic_event_id
from tests.infra import Infra
from tests.integration.expansion.harness import Expansion, running, settings_for
from tests.kafka_utils import read_all, wait_for
from tests.unit.expansion.factories import Story

pytestmark = pytest.mark.integration



async def _divergences(expansion: Expansion) -> list[dict[str, object]]:
    records = await read_all(expansion.settings.kafka_bootstrap, expansion.topics.churn_risk)
    return [r for r in (orjson.loads(x.value) for x in records) if r["kind"] == "revenue_health_divergence"]


async def test_arr_growing_while_health_falls_raises_one_alert_on_the_churn_risk_topic(
    infra: Infra, schema: str, unique: str
) -> None:
    account = f"div-{unique}"
    story = Story(account)
    story.contract(0, arr="60000")
    story.health(1, "green", 80)
    story.contract(40, arr="75000", seats=12, event_type="contract.amended")
    story.health(50, "yellow", 55)
    async with running(settings_for(infra, schema=schema, unique=unique), consume=True) as expansion:
        for event in story.events:  # one at a time: each topic's record in its event-time turn
            await expansion.produce([event])
            await wait_for(lambda n=story.events.index(event) + 1: expansion.applied(n), timeout=60,
                           what="the record applied")

        async def one_alert() -> bool:
            return len(await _divergences(expansion)) >= 1

        await wait_for(one_alert, timeout=30, what="the divergence alert on the churn-risk topic")
        [alert] = await _divergences(expansion)
        assert alert["type"] == "churn_risk.raised" and alert["account_id"] == account
        assert alert["event_id"] == deterministic_event_id("churn_risk.raised", alert_id(account, 1))
        assert alert["severity"] == "medium" and alert["direction"] == "arr_up_health_down"
        assert alert["score"] == 55 and alert["previous_score"] == 80 and alert["arr_at_risk"] == "75000"
        assert alert["occurred_at"].startswith("2026-07-21")

        # Its own record comes back on the churn-risk topic (consumed like health's and renewals'):
        # applied, and the account's gate stays open.
        await wait_for(lambda: expansion.applied(len(story.events) + 1), timeout=60, what="its own record read")
        held = (await expansion.http.get(f"/v1/accounts/{account}/held-triggers")).json()
        assert held["open_alert_ids"] == []

        await expansion.produce(story.events)  # redelivered: nothing new
        await asyncio.sleep(1.5)
        assert len(await _divergences(expansion)) == 1
