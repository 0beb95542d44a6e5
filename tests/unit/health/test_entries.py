"""The account timeline's pure part: which entry each event makes, usage rolled up (each id once),
and the words of each entry; and the inbox's fold of an alert's records into one row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from services.health.domain.entries import (
    USAGE_ROLLUP_TYPE,
    TimelineInput,
    describe,
    describe_score,
    kind_of,
    split_entries,
)
from services.health.inbox import inbox_rows
from shared.events import ChurnRiskAlert

pytestmark = pytest.mark.unit

T = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)


def event(event_id: str, event_type: str, data: dict[str, Any], at: datetime = T) -> TimelineInput:
    return TimelineInput("acct", event_id, event_type, at, "crm", data)


def test_each_event_type_has_its_kind() -> None:
    assert [kind_of(t) for t in ("ticket.opened", "ticket.closed", "contract.cancelled", "account.updated",
                                 "contact.changed", "survey.answered", "interaction.logged", "usage.recorded")] == [
        "ticket", "ticket", "contract", "account", "contact", "survey", "interaction", "usage"]


def test_usage_is_touched_not_entered_and_a_repeated_id_counts_once() -> None:
    late = T + timedelta(hours=1)  # 00:30 UTC: the next day
    entries, touches = split_entries([
        event("u1", "usage.recorded", {"feature": "reports", "quantity": 3.0}),
        event("u1", "usage.recorded", {"feature": "reports", "quantity": 3.0}),
        event("u2", "usage.recorded", {"feature": "reports"}, at=late),
        event("t1", "ticket.opened", {"ticket_id": "T-1", "severity": "urgent"}),
        event("t1", "ticket.opened", {"ticket_id": "T-1", "severity": "urgent"}),
    ])
    assert [(e.event_id, e.kind) for e in entries] == [("t1", "ticket")]
    assert [(t.event_id, t.day.isoformat(), t.feature, t.quantity) for t in touches] == [
        ("u1", "2026-06-01", "reports", 3.0), ("u2", "2026-06-02", "reports", 1.0)]


def test_a_day_is_the_utc_day_whatever_the_offset() -> None:
    at_home = datetime(2026, 6, 2, 1, 0, tzinfo=timezone(timedelta(hours=2)))  # 23:00 UTC on June 1st
    _, touches = split_entries([event("u", "usage.recorded", {"feature": "f"}, at=at_home)])
    assert touches[0].day.isoformat() == "2026-06-01"


@pytest.mark.parametrize(("event_type", "data", "words"), [
    ("interaction.logged", {"channel": "call", "direction": "inbound", "contact_id": "c0", "sentiment": -0.9,
                            "summary": "unhappy with reports"}, "call (inbound) with c0, sentiment -0.9: unhappy"),
    ("ticket.opened", {"ticket_id": "T-1", "severity": "urgent", "subject": "export broken"},
     "ticket T-1 opened (urgent): export broken"),
    ("ticket.closed", {"ticket_id": "T-1"}, "ticket T-1 closed"),
    ("survey.answered", {"kind": "nps", "score": 2, "comment": "slow"}, "NPS 2: slow"),
    ("contact.changed", {"contact_id": "c0", "role": "champion", "change": "left", "name": "Ann"},
     "contact Ann (c0) (champion) left"),
    ("contact.changed", {"contact_id": "c1", "role": "user", "change": "role_changed", "new_role": "champion"},
     "contact c1: user -> champion"),
    ("account.updated", {"owner": "sam@example.com", "crm_id": None}, "account updated: owner = sam@example.com, "
                                                                      "crm_id cleared"),
    ("contract.renewed", {"contract_id": "k1", "arr": "150000", "currency": "EUR", "seats": 30,
                          "end_date": "2027-06-01"}, "contract k1 renewed: 150000 EUR ARR, 30 seats, until 2027-06-01"),
    ("contract.cancelled", {"contract_id": "k1", "end_date": "2027-01-01", "reason": "budget"},
     "contract k1 cancelled, until 2027-01-01 (budget)"),
    (USAGE_ROLLUP_TYPE, {"feature": "reports", "quantity": 12.0, "events": 4, "day": "2026-06-01"},
     "reports: 12 used in 4 events on 2026-06-01"),
])
def test_each_entry_reads_as_a_line(event_type: str, data: dict[str, Any], words: str) -> None:
    assert describe(event_type, data).startswith(words)


def test_a_score_change_says_from_what_to_what() -> None:
    assert describe_score(score=40, grade="red", previous_score=71.5, previous_grade="yellow", cause="event") == (
        "score 71.5 -> 40, yellow -> red, event")
    assert describe_score(score=80, grade="green", previous_score=None, previous_grade=None, cause="event") == (
        "first score 80 (green)")


def record(event_id: str, action: str, at: datetime, *, alert_id: str | None = "A", severity: str = "high",
           resolved: bool = False) -> ChurnRiskAlert:
    return ChurnRiskAlert(event_id=event_id, type="churn_risk.resolved" if resolved else "churn_risk.raised",
                       account_id="acct", occurred_at=at, emitted_at=at, kind="renewal_at_risk", severity=severity,
                       score=40, grade="red", alert_id=alert_id, action=action)  # type: ignore[arg-type]


def test_an_alerts_records_fold_into_one_row_the_latest_saying_its_state() -> None:
    rows = inbox_rows([
        record("e1", "raised", T), record("e2", "escalated", T + timedelta(days=3), severity="critical"),
        record("e3", "reminded", T + timedelta(days=30), severity="critical"),
        record("x1", "raised", T + timedelta(days=1), alert_id=None),
    ])
    assert [(r.alert_id, r.severity, r.status, r.raised_at, r.updated_at, r.last_event_id) for r in rows] == [
        ("A", "critical", "open", T, T + timedelta(days=30), "e3"),
        ("x1", "high", "open", T + timedelta(days=1), T + timedelta(days=1), "x1"),  # no alert_id: its own alert
    ]
    resolved = inbox_rows([record("e1", "raised", T), record("e4", "resolved", T + timedelta(days=40), resolved=True)])
    assert [(r.status, r.resolved_at, r.episode_start) for r in resolved] == [("resolved", T + timedelta(days=40), T)]
