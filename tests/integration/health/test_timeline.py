"""The account timeline through the real broker and database: events in, entries out (usage rolled
up per day and feature), every evidence id of every reason found, and a redelivery that doubles
nothing even once the runner's processed ids are gone."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.health.timeline_store import timeline_retention_rules
from shared.retention import RetentionPruner
from tests.infra import Infra
from tests.integration.health.harness import Health, Story, at, healthy, running, settings_for
from tests.kafka_utils import committed_offsets, end_offsets, wait_for
from tests.services import all_pages

pytestmark = pytest.mark.integration


@pytest.fixture
async def consuming(infra: Infra, schema: str, unique: str) -> AsyncIterator[Health]:
    async with running(settings_for(infra, schema=schema, unique=unique), consume=True) as service:
        yield service


async def _drained(health: Health) -> None:
    """Every record on the three input topics applied and its offset committed."""
    bootstrap, group = health.settings.kafka_bootstrap, f"orchard-{health.settings.service_name}"

    async def done() -> bool:
        for topic in (health.topics.usage, health.topics.interaction, health.topics.contract):
            ends = {p: o for p, o in (await end_offsets(bootstrap, topic)).items() if o}
            committed = await committed_offsets(bootstrap, group, topic)
            if any(committed.get(p, 0) < o for p, o in ends.items()):
                return False
        return True

    await wait_for(done, timeout=90, what="the input topics consumed")


async def _all(health: Health, account_id: str, **params: Any) -> list[dict[str, Any]]:
    return await all_pages(health.http, f"/v1/accounts/{account_id}/timeline", **params, limit=37)


def _evidence(value: Any) -> set[str]:
    """Every evidence id anywhere in a health reply (reasons, parts, the last change)."""
    if isinstance(value, dict):
        found = set(value.get("evidence_event_ids") or ())
        return found.union(*(_evidence(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_evidence(v) for v in value))
    return set()


async def test_events_in_entries_out_evidence_resolves_and_a_redelivery_doubles_nothing(consuming: Health) -> None:
    health = consuming
    story = healthy("tl-acct", days=40)
    story.add(20, "ticket.opened", {"ticket_id": "T-1", "severity": "urgent", "subject": "export broken"})
    story.add(22, "ticket.closed", {"ticket_id": "T-1"})
    story.add(25, "account.updated", {"name": "Acme", "owner": "sam@example.com"})
    story.contact(30, "c0", "champion", change="left")
    for day in (31, 32, 33):
        story.interaction(day, sentiment=-0.9)
    events = story.in_time_order()
    await health.produce(events)
    await _drained(health)

    entries = await _all(health, "tl-acct")
    # newest first, by (at, entry id), no entry twice across the pages
    assert [(e["at"], e["entry_id"]) for e in entries] == sorted(((e["at"], e["entry_id"]) for e in entries),
                                                                 reverse=True)
    assert len({e["entry_id"] for e in entries}) == len(entries)
    usage = [e for e in events if e["type"] == "usage.recorded"]
    others = [e for e in events if e["type"] != "usage.recorded"]
    assert sorted(e["event_id"] for e in entries if e["event_id"]) == sorted(e["event_id"] for e in others)
    expected = Counter((e["occurred_at"][:10], e["data"]["feature"]) for e in usage)
    rollups = {(e["data"]["day"], e["data"]["feature"]): e for e in entries if e["kind"] == "usage"}
    assert {key: r["data"]["events"] for key, r in rollups.items()} == dict(expected)
    assert all(r["data"]["quantity"] == r["data"]["events"] for r in rollups.values())  # quantity defaults to 1
    kinds = Counter(e["kind"] for e in entries)
    assert {"contract", "contact", "interaction", "survey", "ticket", "account", "usage", "score"} <= set(kinds)
    ticket = next(e for e in entries if e["type"] == "ticket.opened")
    assert ticket["summary"] == "ticket T-1 opened (urgent): export broken"

    # filters: kind (repeatable) and time
    tickets_and_surveys = await _all(health, "tl-acct", kind=["ticket", "survey"])
    assert Counter(e["kind"] for e in tickets_and_surveys) == {"ticket": 2, "survey": 1}
    window = await _all(health, "tl-acct", **{"from": at(20).isoformat(), "to": at(23).isoformat()})
    assert window and all(at(20).isoformat() <= e["at"] < at(23).isoformat() for e in window)
    assert {e["event_id"] for e in window if e["kind"] == "ticket"} == {
        e["event_id"] for e in others if e["type"].startswith("ticket.")}

    # every evidence id of every reason finds the entry that shows it
    reply = await health.http.get("/v1/accounts/tl-acct/health")
    history = await health.http.get("/v1/accounts/tl-acct/health/history", params={"limit": 500})
    evidence = _evidence(reply.json()) | _evidence(history.json())
    assert any(e["event_id"] in evidence for e in usage), "some reason cites usage: the roll-up lookup is tested"
    for event_id in sorted(evidence):
        found = await _all(health, "tl-acct", event_id=[event_id])
        assert len(found) == 1, event_id
        source = next(e for e in events if e["event_id"] == event_id)
        if source["type"] == "usage.recorded":
            assert found[0]["kind"] == "usage" and found[0]["data"]["day"] == source["occurred_at"][:10]
            assert found[0]["data"]["feature"] == source["data"]["feature"]
        else:
            assert found[0]["event_id"] == event_id

    # A redelivery once the runner has forgotten the ids (a replay, or past processed_events' window):
    # the timeline's own idempotency keeps every entry and roll-up as it was.
    before = await health.rows("SELECT feature, day, quantity, events FROM {s}.timeline_usage ORDER BY 1, 2")
    async with health.service.runtime.engine.begin() as conn:
        await conn.execute(sa.text(f'DELETE FROM "{health.schema}".processed_events'))
    await health.produce(events[:300] + others)
    await _drained(health)
    assert await health.rows("SELECT feature, day, quantity, events FROM {s}.timeline_usage ORDER BY 1, 2") == before
    # (score changes and alerts are the scorer's: it had forgotten the ids too, and re-applied them)
    def shown(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return sorted((e["entry_id"], e["summary"]) for e in items if e["kind"] not in ("score", "alert"))

    assert shown(await _all(health, "tl-acct")) == shown(entries)


async def test_an_unknown_account_is_404_and_a_bad_window_400(consuming: Health) -> None:
    assert (await consuming.http.get("/v1/accounts/nobody/timeline")).status_code == 404
    story = healthy("tl-window", days=3)
    await consuming.apply(story.events)
    reply = await consuming.http.get("/v1/accounts/tl-window/timeline",
                                     params={"from": at(3).isoformat(), "to": at(2).isoformat()})
    assert reply.status_code == 400
    assert (await consuming.http.get("/v1/accounts/tl-window/timeline", params={"kind": "nonsense"})).status_code == 422


async def test_retention_forgets_entries_and_roll_ups_past_the_window_and_keeps_the_rest(health: Health) -> None:
    old = healthy("tl-old", days=5)  # June 2026: months before now
    recent = Story("tl-old")
    recent.events = [{"event_id": "tl-recent-ticket", "type": "ticket.opened", "schema_version": 1,
                      "account_id": "tl-old", "occurred_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
                      "data": {"ticket_id": "T-9", "severity": "low"}}]
    await health.apply(old.events)
    await health.apply(recent.events)
    assert health.service.settings.health_timeline_retention == timedelta(days=400)
    pruner = RetentionPruner(sessions=health.service.runtime.sessions, interval_s=3600, batch_size=7,
                             rules=timeline_retention_rules(health.service.tables.timeline, timedelta(days=30)))
    before = await health.rows("SELECT (SELECT count(*) FROM {s}.timeline_events) + (SELECT count(*) FROM "
                               "{s}.timeline_usage) + (SELECT count(*) FROM {s}.timeline_usage_events)")
    assert await pruner.prune_once() == before[0][0] - 1  # in batches of 7
    entries = await _all(health, "tl-old", kind=["ticket", "usage", "contract"])
    assert [e["event_id"] for e in entries] == ["tl-recent-ticket"]
    assert await health.rows("SELECT count(*) FROM {s}.timeline_usage_events") == [(0,)]
