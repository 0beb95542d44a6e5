"""Churn-risk alert lifecycle through the handler and the outbox: raised once, no repeat while open or
inside the cool-down, resolved when the condition clears, raised again (new id) after the cool-down and
outside the half-year's budget."""

from __future__ import annotations

import pytest

from tests.integration.health.harness import Health, Story, at

pytestmark = pytest.mark.integration


async def test_no_repeat_while_open_or_inside_the_cooldown_and_a_resolve_when_it_clears(health: Health) -> None:
    story = Story("unhappy")
    story.contract(0, seats=5, segment="smb")
    story.interaction(9, sentiment=0.4)
    steps: list[tuple[str, int, list[float]]] = [  # (what should happen, up to day, negative items)
        ("raised", 12, [10, 11, 12]),       # three negative items within 30 days: the rule's run
        ("still open", 13, [13]),            # a fourth: the alert is open and this is no worse
        ("resolved", 50, []),                # by day 50: no negative feedback in 30 days
        ("cool-down", 57, [55, 56, 57]),     # a new run days after the resolve: inside the 30-day cool-down
        ("raised again", 203, [200, 201, 203]),  # past the cool-down and the half-year budget
    ]
    seen, used_until = 0, 0
    for label, until, days in steps:
        story.usage(used_until + 1, until, 3)  # a steady user all along: only the feedback is news
        used_until = until
        if label == "resolved":
            story.interaction(50, sentiment=0.6)
        for day in days:
            story.interaction(day, sentiment=-0.9)
        await health.apply(sorted(story.since(seen), key=lambda e: e["occurred_at"]))
        seen = len(story.events)
        if label == "raised":
            await health.apply([])  # an empty batch changes nothing

    records = await health.records(health.topics.churn_risk, at_least=3)
    feedback = [r for r in records if r["kind"] == "negative_feedback"]
    assert [(r["type"], r["action"]) for r in feedback] == [
        ("churn_risk.raised", "raised"), ("churn_risk.resolved", "resolved"), ("churn_risk.raised", "raised")]
    first, resolved, again = feedback
    assert resolved["alert_id"] == first["alert_id"] != again["alert_id"]
    assert first["episode_start"].startswith(at(10).date().isoformat())
    assert again["episode_start"].startswith(at(200).date().isoformat())
    assert len(first["reasons"][0]["evidence_event_ids"]) == 3
    assert "no negative feedback" in resolved["reasons"][0]["detail"]

    rows = await health.rows(
        "SELECT alert_id, status, resolved_at IS NOT NULL AS closed FROM {s}.alerts "
        "WHERE kind = 'negative_feedback' ORDER BY raised_at")
    assert [(r.alert_id, r.status, r.closed) for r in rows] == [
        (first["alert_id"], "resolved", True), (again["alert_id"], "open", False)]
    assert len({r["event_id"] for r in records}) == len(records)
