"""One alert inbox through the real broker and database: a renewal_at_risk alert renewals publishes on
the churn-risk topic (raised, then a reminder under the same alert id, then resolved) is one row in
health's GET /v1/alerts, found by its account's owner, acknowledged, snoozed and assigned there; and
health's own alerts, read back from the same topic, stay health's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared.events import AlertReason, ChurnRiskAlert, deterministic_event_id, output_event_to_json
from tests.infra import Infra
from tests.integration.health.harness import Health, at, healthy, running, settings_for
from tests.kafka_utils import produce, wait_for
from tests.services import WRITER

pytestmark = pytest.mark.integration


@pytest.fixture
async def consuming(infra: Infra, schema: str, unique: str) -> AsyncIterator[Health]:
    async with running(settings_for(infra, schema=schema, unique=unique), consume=True) as service:
        yield service


def renewal_alert(account_id: str, action: str, day: float, *, severity: str = "high") -> ChurnRiskAlert:
    """What renewals publishes, for one renewal's first episode."""
    alert_id = deterministic_event_id("renewal_at_risk", f"{account_id}-r1", "1")
    return ChurnRiskAlert(
        event_id=deterministic_event_id("renewal_at_risk", f"{account_id}-r1", "1", action),
        type="churn_risk.resolved" if action == "resolved" else "churn_risk.raised",
        account_id=account_id, occurred_at=at(day), emitted_at=datetime.now(UTC), kind="renewal_at_risk",
        severity=severity, score=35.0, previous_score=52.0, grade="red",  # type: ignore[arg-type]
        reasons=(AlertReason(component="renewal", delta=0.0, detail=f"renewal of contract k1 ({action})"),),
        renewal_date=date(2026, 9, 1), days_to_renewal=(date(2026, 9, 1) - at(day).date()).days,
        arr_at_risk=Decimal("120000"), renewal_id=f"{account_id}-r1", contract_id="k1", currency="USD",
        action=action, alert_id=alert_id, episode=1, episode_start=at(10),  # type: ignore[arg-type]
    )


async def publish(health: Health, *alerts: ChurnRiskAlert) -> None:
    await produce(health.settings.kafka_bootstrap, health.topics.churn_risk,
                  [(a.account_id, output_event_to_json(a)) for a in alerts])


async def inbox(health: Health, **params: Any) -> list[dict[str, Any]]:
    reply = await health.http.get("/v1/alerts", params=params)
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


async def test_a_renewal_alert_from_the_topic_is_one_inbox_row_acknowledged_snoozed_and_assigned_there(
    consuming: Health,
) -> None:
    health = consuming
    account = healthy("inbox-acct", days=20)
    account.add(15, "account.updated", {"name": "Acme", "owner": "sam@example.com"})
    await health.apply(account.in_time_order())

    await publish(health, renewal_alert("inbox-acct", "raised", 10), renewal_alert("inbox-acct", "reminded", 30))

    async def reminded() -> bool:
        rows = await inbox(health, kind="renewal_at_risk")
        return len(rows) == 1 and rows[0]["updated_at"].startswith(at(30).date().isoformat())

    await wait_for(reminded, timeout=60, what="the renewal alert and its reminder in the inbox")
    [row] = await inbox(health, kind="renewal_at_risk", owner="sam@example.com", status="open")
    assert row["origin"] == "topic" and row["account_name"] == "Acme" and row["severity"] == "high"
    assert row["raised_at"].startswith(at(10).date().isoformat()) and row["arr_at_risk"] == "120000"
    assert row["reasons"][0]["detail"] == "renewal of contract k1 (reminded)"
    assert await inbox(health, kind="renewal_at_risk", owner="someone@else.com") == []
    alert_id = row["alert_id"]

    acked = await health.http.post(f"/v1/alerts/{alert_id}/ack", json={"note": "calling them"}, headers=WRITER)
    assert acked.status_code == 200, acked.text
    assert (acked.json()["acknowledged_by"], acked.json()["acknowledged_note"]) == ("writer", "calling them")
    until = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    snoozed = await health.http.post(f"/v1/alerts/{alert_id}/snooze", json={"until": until}, headers=WRITER)
    assert snoozed.status_code == 200 and snoozed.json()["snoozed_by"] == "writer", snoozed.text
    assert [a["alert_id"] for a in await inbox(health, snoozed="true")] == [alert_id]
    assert alert_id not in {a["alert_id"] for a in await inbox(health, snoozed="false")}
    past = await health.http.post(f"/v1/alerts/{alert_id}/snooze", json={"until": at(0).isoformat()}, headers=WRITER)
    assert past.status_code == 422
    assigned = await health.http.post(f"/v1/alerts/{alert_id}/assign", json={"assignee": "kim@example.com"},
                                      headers=WRITER)
    assert (assigned.json()["assigned_to"], assigned.json()["assigned_by"]) == ("kim@example.com", "writer")
    assert [a["alert_id"] for a in await inbox(health, assigned_to="kim@example.com")] == [alert_id]
    assert (await health.http.post(f"/v1/alerts/{alert_id}/ack", json={})).status_code == 403  # reader key

    # The resolve (and a redelivery of the raise) keeps one row and what people did with it.
    await publish(health, renewal_alert("inbox-acct", "resolved", 40), renewal_alert("inbox-acct", "raised", 10))

    async def resolved() -> bool:
        rows = await inbox(health, kind="renewal_at_risk")
        return len(rows) == 1 and rows[0]["status"] == "resolved"

    await wait_for(resolved, timeout=60, what="the resolve in the inbox")
    [row] = await inbox(health, kind="renewal_at_risk")
    assert row["resolved_at"].startswith(at(40).date().isoformat())
    assert (row["acknowledged_by"], row["assigned_to"]) == ("writer", "kim@example.com")
    timeline = await health.http.get("/v1/accounts/inbox-acct/timeline", params={"kind": "alert"})
    assert [e["data"]["alert_id"] for e in timeline.json()["items"]] == [alert_id]


async def test_healths_own_alerts_read_back_from_the_topic_stay_healths(consuming: Health) -> None:
    health = consuming
    story = healthy("inbox-own", days=40)
    story.contact(20, "c0", "champion", change="left")  # unreplaced: health raises champion_left
    story.usage(41, 60, 15)
    await health.apply(story.in_time_order())
    records = await health.records(health.topics.churn_risk, at_least=1)
    own = {r["alert_id"] for r in records}

    async def read_back() -> bool:
        rows = await health.rows("SELECT count(*) FROM {s}.processed_events WHERE event_id LIKE 'churn-risk:%'")
        return int(rows[0][0]) >= len(records)

    await wait_for(read_back, timeout=60, what="health's alerts read back by the inbox")
    rows = await inbox(health, account_id="inbox-own")
    assert {r["alert_id"] for r in rows} == own and {r["origin"] for r in rows} == {"health"}
