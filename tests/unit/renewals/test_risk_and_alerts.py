"""Risk bands from health, and the renewal_at_risk alert's raise / escalate / resolve."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from services.renewals.domain import (
    AccountBook,
    AlertState,
    Renewal,
    apply_contract_events,
    assess_risk,
    decide_alert,
    in_window,
    shown_stage,
)
from tests.unit.renewals.factories import contract_event, health, terms

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("grade", "score", "previous", "band"),
    [("green", 80, None, "low"), ("yellow", 55, None, "medium"), ("red", 40, None, "high"),
     ("red", 20, None, "critical"), ("green", 70, 90, "medium"), ("red", 30, 60, "critical")],
)
def test_risk_band_from_health(grade: str, score: float, previous: float | None, band: str) -> None:
    risk = assess_risk(health(grade, score, previous=previous))
    assert risk.band == band
    assert risk.reasons[0].detail == f"health is {grade} at {score:g}"
    if previous is not None:
        assert risk.reasons[1].detail == f"score fell {previous - score:g} points (from {previous:g} to {score:g})"


def test_no_health_is_medium_and_says_so() -> None:
    risk = assess_risk(None)
    assert risk.band == "medium" and "no health score" in risk.reasons[0].detail


def _renewal(grade: str, score: float) -> Renewal:
    book = apply_contract_events(AccountBook(health=health(grade, score)),
                                 [contract_event("signed", terms("c1"), on="2025-12-20")])
    return book.renewals("acc")[0]  # renews 2026-12-31


def test_window_and_upcoming_stage() -> None:
    end = date(2026, 12, 31)
    assert not in_window(end, today=date(2026, 9, 1), window_days=120)
    assert in_window(end, today=date(2026, 9, 2), window_days=120)
    assert shown_stage("open", end, today=date(2026, 9, 1), window_days=120) == "upcoming"
    assert shown_stage("open", end, today=date(2026, 9, 2), window_days=120) == "open"
    assert shown_stage("in_progress", end, today=date(2026, 1, 1), window_days=120) == "in_progress"


def test_raised_once_escalated_then_resolved() -> None:
    today, window = date(2026, 11, 1), 120
    high = decide_alert(_renewal("red", 40), AlertState(), today=today, window_days=window)
    assert high is not None and (high.action, high.severity, high.state) == ("raised", "high", AlertState("high", 1))
    assert high.days_to_renewal == 60
    assert decide_alert(_renewal("red", 35), high.state, today=today, window_days=window) is None, "no repeat"
    critical = decide_alert(_renewal("red", 10), high.state, today=today, window_days=window)
    assert critical is not None and critical.severity == "critical" and critical.event_id != high.event_id
    assert decide_alert(_renewal("red", 40), critical.state, today=today, window_days=window) is None
    resolved = decide_alert(_renewal("green", 80), critical.state, today=today, window_days=window)
    assert resolved is not None and (resolved.action, resolved.state) == ("resolved", AlertState(None, 1))
    again = decide_alert(_renewal("red", 40), resolved.state, today=today, window_days=window)
    assert again is not None and again.state.episode == 2 and again.event_id != high.event_id


def test_no_alert_outside_the_window_or_once_renewed() -> None:
    assert decide_alert(_renewal("red", 10), AlertState(), today=date(2026, 6, 1), window_days=120) is None
    renewed = replace(_renewal("red", 10), outcome="renewed")
    assert decide_alert(renewed, AlertState(), today=date(2026, 11, 1), window_days=120) is None
    resolved = decide_alert(renewed, AlertState("critical", 1), today=date(2026, 11, 1), window_days=120)
    assert resolved is not None and resolved.action == "resolved"


def test_the_same_condition_gives_the_same_event_id() -> None:
    first = decide_alert(_renewal("red", 40), AlertState(), today=date(2026, 11, 1), window_days=120)
    second = decide_alert(_renewal("red", 40), AlertState(), today=date(2026, 11, 20), window_days=120)
    assert first is not None and second is not None and first.event_id == second.event_id
