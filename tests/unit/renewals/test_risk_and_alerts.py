"""Renewal risk, factor by factor (each with the case where it must not fire), and the
renewal_at_risk alert's raise / escalate / remind / resolve."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from services.renewals.domain import (
    AccountBook,
    AlertDecision,
    AlertState,
    Renewal,
    apply_contract_events,
    apply_health,
    assess_risk,
    book_from_json,
    book_to_json,
    decide_alert,
    in_window,
    reminder_window,
    shown_stage,
)
from shared.health_reading import HealthReading
from tests.unit.renewals.factories import at, contract_event, health, terms

pytestmark = pytest.mark.unit

RENEWS = date(2026, 12, 31)


def _risk(trail: list[HealthReading], *, on: str | date = "2026-06-01", renews: date = RENEWS, auto_renew: bool = False,
          pending: bool = True) -> tuple[str, list[tuple[str, float, str]]]:
    risk = assess_risk(trail, at=at(on, hour=12), renewal_date=renews, auto_renew=auto_renew, pending=pending)
    return risk.band, [(r.component, r.delta, r.detail) for r in risk.reasons]


@pytest.mark.parametrize(("grade", "score", "band"),
                         [("green", 80, "low"), ("yellow", 55, "medium"), ("red", 40, "high"), ("red", 25, "high"),
                          ("red", 24.9, "critical")])
def test_the_health_grade_sets_the_starting_band(grade: str, score: float, band: str) -> None:
    found, reasons = _risk([health(grade, score)])
    assert found == band and reasons == [("health", 0.0, f"health is {grade} at {score:g}")]


def test_no_health_is_medium_and_says_so() -> None:
    band, reasons = _risk([])
    assert band == "medium" and "no health score" in reasons[0][2]


def test_a_fall_of_15_points_in_30_days_raises_a_band_and_14_does_not() -> None:
    band, reasons = _risk([health("green", 70, previous=85)])
    assert band == "medium" and reasons[1] == ("health_trend", -1.0, "health fell 15 points in 30 days (from 85 to 70)")
    assert _risk([health("green", 71, previous=85)]) == ("low", [("health", 0.0, "health is green at 71")])


def test_the_trend_compares_with_the_record_in_force_30_days_before() -> None:
    trail = [health("green", 85, on="2026-05-01"), health("green", 75, on="2026-05-21"),
             health("yellow", 65, on="2026-05-31", previous=75)]
    # On 06-10 the reference is 05-11's score, 85: a fall of 20.
    band, reasons = _risk(trail, on="2026-06-10")
    assert band == "high" and reasons[1][2] == "health fell 20 points in 30 days (from 85 to 65)"
    # On 06-25 it is 05-26's, 75: a fall of 10, which is no trend.
    assert _risk(trail, on="2026-06-25")[0] == "medium"


def test_a_rise_of_15_points_lowers_a_band() -> None:
    band, reasons = _risk([health("yellow", 65, previous=45)])
    assert band == "low" and reasons[1] == ("health_trend", 1.0, "health rose 20 points in 30 days (from 45 to 65)")


def test_auto_renew_lowers_a_band_but_red_stays_high() -> None:
    band, reasons = _risk([health("yellow", 55)], auto_renew=True)
    assert band == "low" and reasons[1] == ("auto_renew", 1.0, "auto-renews: it renews unless the customer cancels")
    assert _risk([health("red", 40)], auto_renew=True)[0] == "high", "a red account still gives notice"
    assert _risk([health("red", 10)], auto_renew=True)[0] == "high"
    assert _risk([health("green", 90)], auto_renew=True) == ("low", [("health", 0.0, "health is green at 90")])


def test_closing_days_make_a_high_risk_critical_but_not_a_medium_one() -> None:
    red = [health("red", 40)]
    band, reasons = _risk(red, on=RENEWS - timedelta(days=30))
    assert band == "critical" and reasons[1] == ("days_to_renewal", -1.0,
                                                 "30 days to renewal: little time left to turn it round")
    assert _risk(red, on=RENEWS - timedelta(days=31))[0] == "high"
    assert _risk([health("yellow", 60)], on=RENEWS - timedelta(days=5))[0] == "medium"
    assert _risk(red, on=RENEWS - timedelta(days=5), pending=False)[0] == "high", "a closed renewal has no clock"


def test_a_passed_date_without_a_renewal_raises_a_band_unless_it_auto_renews() -> None:
    band, reasons = _risk([health("green", 80)], on=RENEWS + timedelta(days=3))
    assert band == "medium" and reasons[1][2] == "the renewal date passed 3 days ago and no renewal has been recorded"
    assert _risk([health("green", 80)], on=RENEWS)[0] == "low", "the date itself is not overdue"
    assert _risk([health("green", 80)], on=RENEWS + timedelta(days=3), auto_renew=True)[0] == "low"
    assert _risk([health("green", 80)], on=RENEWS + timedelta(days=3), pending=False)[0] == "low"


def _renewal(grade: str, score: float, *, on: str | date = "2026-11-01") -> tuple[Renewal, HealthReading]:
    record = health(grade, score)
    book = apply_contract_events(AccountBook(health_trail=(record,)),
                                 [contract_event("signed", terms("c1"), on="2025-12-20")])
    return book.renewals("acc", at=at(on))[0], record  # renews 2026-12-31


def _decide(grade: str, score: float, state: AlertState, *, on: str | date = "2026-11-01") -> AlertDecision | None:
    renewal, record = _renewal(grade, score, on=on)
    return decide_alert(renewal, state, record, at=at(on), window_days=120)


def test_window_and_upcoming_stage() -> None:
    assert not in_window(RENEWS, today=date(2026, 9, 1), window_days=120)
    assert in_window(RENEWS, today=date(2026, 9, 2), window_days=120)
    assert shown_stage("open", RENEWS, today=date(2026, 9, 1), window_days=120) == "upcoming"
    assert shown_stage("open", RENEWS, today=date(2026, 9, 2), window_days=120) == "open"
    assert shown_stage("in_progress", RENEWS, today=date(2026, 1, 1), window_days=120) == "in_progress"


def test_raised_once_escalated_then_resolved() -> None:
    high = _decide("red", 40, AlertState())
    assert high is not None and (high.action, high.severity) == ("raised", "high")
    assert (high.state.severity, high.state.episode, high.state.reminded) == ("high", 1, 60)
    assert high.days_to_renewal == 60
    assert _decide("red", 35, high.state) is None, "no repeat"
    critical = _decide("red", 10, high.state)
    assert critical is not None and (critical.action, critical.severity) == ("escalated", "critical")
    assert critical.event_id != high.event_id and critical.alert_id == high.alert_id
    assert _decide("red", 40, critical.state) is None, "the alert stays at its highest severity"
    resolved = _decide("green", 80, critical.state)
    assert resolved is not None and resolved.action == "resolved" and resolved.state.severity is None
    again = _decide("red", 40, resolved.state)
    assert again is not None and again.state.episode == 2 and again.event_id != high.event_id
    assert again.alert_id != high.alert_id


def test_no_alert_outside_the_window_for_a_medium_risk_or_once_renewed() -> None:
    assert _decide("red", 10, AlertState(), on="2026-06-01") is None
    assert _decide("yellow", 55, AlertState()) is None
    renewal, record = _renewal("red", 10)
    renewed = replace(renewal, outcome="renewed")
    assert decide_alert(renewed, AlertState(), record, at=at("2026-11-01"), window_days=120) is None
    resolved = decide_alert(renewed, AlertState("critical", 1), record, at=at("2026-11-01"), window_days=120)
    assert resolved is not None and resolved.action == "resolved"


def test_the_same_condition_gives_the_same_event_id() -> None:
    first = _decide("red", 40, AlertState(), on="2026-11-01")
    second = _decide("red", 40, AlertState(), on="2026-11-20")
    assert first is not None and second is not None and first.event_id == second.event_id


def test_reminder_windows() -> None:
    windows = (120, 90, 60, 30)
    assert [reminder_window(d, windows) for d in (121, 120, 91, 90, 31, 30, 0, -1)] == [
        None, 120, 120, 90, 60, 30, 30, None]


def test_an_open_alert_is_reminded_once_per_window_it_enters() -> None:
    raised = _decide("red", 40, AlertState(), on=RENEWS - timedelta(days=100))
    assert raised is not None and raised.state.reminded == 120, "the window it was raised in counts as reminded"
    assert _decide("red", 40, raised.state, on=RENEWS - timedelta(days=91)) is None
    ninety = _decide("red", 40, raised.state, on=RENEWS - timedelta(days=90))
    assert ninety is not None and (ninety.action, ninety.reminder_days, ninety.severity) == ("reminded", 90, "high")
    assert ninety.event_id != raised.event_id and ninety.alert_id == raised.alert_id
    assert _decide("red", 40, ninety.state, on=RENEWS - timedelta(days=89)) is None, "once per window"
    again = _decide("red", 40, raised.state, on=RENEWS - timedelta(days=90))
    assert again is not None and again.event_id == ninety.event_id, "a replay re-emits the same id"


def test_no_reminder_without_an_open_alert() -> None:
    assert _decide("yellow", 55, AlertState(band="medium"), on=RENEWS - timedelta(days=60)) is None
    late = _decide("red", 40, AlertState(), on=RENEWS - timedelta(days=45))
    assert late is not None and late.action == "raised" and late.state.reminded == 60, "raised late: no catch-up"


def _with_parts(grade: str, score: float, **parts: float) -> HealthReading:
    return replace(health(grade, score), components=tuple(sorted(parts.items())))


def test_a_weak_part_behind_a_good_grade_raises_a_band_and_says_which() -> None:
    band, reasons = _risk([_with_parts("green", 78, usage=12, relationship=90, support=85)])
    assert band == "medium"
    assert reasons[1] == ("weak_parts", -1.0, "weak behind the green grade: usage 12/100 (seat use and activity)")
    band, reasons = _risk([_with_parts("yellow", 60, usage=80, relationship=20, support=10)])
    assert band == "high", "two weak parts move one band, not two"
    assert reasons[1][2] == ("weak behind the yellow grade: relationship 20/100 (champion and sponsor), "
                             "support 10/100 (urgent and open tickets)")


def test_weak_parts_must_not_fire_at_30_for_other_parts_or_above_high() -> None:
    assert _risk([_with_parts("green", 80, usage=30, relationship=30, support=30)])[0] == "low"
    assert _risk([_with_parts("green", 80, engagement=5, sentiment=5)])[0] == "low", "only usage, relationship, support"
    band, reasons = _risk([_with_parts("red", 40, usage=5)])
    assert band == "high" and [r[0] for r in reasons] == ["health"], "red is high already; critical stays the score's"


def test_health_parts_survive_the_stored_book() -> None:
    record = _with_parts("green", 78, usage=12.5)
    stored = book_from_json(book_to_json(apply_health(AccountBook(), record)))
    assert stored.health_trail == (record,)
