"""score_account on hand-built histories: steady, collapse, silence, new accounts, weights, grades."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from services.health.domain import (
    DEFAULT_SCORECARDS,
    EMPTY_SIGNALS,
    CriticalMeasure,
    GradeThresholds,
    HealthScore,
    Scorecard,
    component_scores,
    grade_with_hysteresis,
    health_score_from_json,
    health_score_to_json,
    score_account,
)
from tests.unit.health.factories import History, at, healthy_account

pytestmark = pytest.mark.unit

ENTERPRISE = DEFAULT_SCORECARDS["enterprise"]


def _score(h: History, day: float, card: Scorecard = ENTERPRISE, previous: str | None = None) -> HealthScore:
    return score_account(h.signals(day), card, as_of=at(day), previous_grade=previous)


def test_steady_healthy_account_stays_green_for_months() -> None:
    h = healthy_account(days=180)
    grade = None
    for day in range(0, 181, 15):
        score = _score(h, day + 0.9, previous=grade)
        grade = score.grade
        assert grade == "green", (day, score.total, component_scores(score))
        assert score.total >= 85 and score.forced_by is None


def test_usage_collapse_turns_the_account_red_within_the_windows() -> None:
    h = healthy_account(days=90, users=48)
    h.active_users(91, 130, 12)  # 48 -> 12 of 60 seats, everything else unchanged
    h.customer_success(91, 130)
    grades = {}
    grade = None
    for day in range(90, 131):
        score = _score(h, day + 0.9, previous=grade)
        grade = grades[day] = score.grade
    assert grades[95] == "green"
    assert grades[121] == "red"  # within one 30-day window of the collapse
    red = _score(h, 121.9)
    assert red.forced_by == "active_users_decline_pct"
    usage = red.components["usage"]
    assert usage.facts["active_users_recent"] == 12 and usage.facts["active_users_prior"] == 48
    assert (usage.facts["daily_active_users_recent"], usage.facts["daily_active_users_prior"]) == (4.0, 15.6)
    assert usage.score is not None and usage.score < 50
    trend = next(p for p in usage.parts if p.name == "trend")
    assert trend.detail == "users active on an average day fell from 15.6 to 4.0 of 60 seats against the 30 days before"


def test_silent_account_decays_into_red_with_no_new_events() -> None:
    h = healthy_account(days=90)
    signals = h.signals()  # nothing happens after day 90
    totals = []
    grade = "green"
    for later in (10, 30, 60):
        score = score_account(signals, ENTERPRISE, as_of=at(90 + later), previous_grade=grade)
        grade = score.grade
        totals.append(score.total)
    assert totals[0] > totals[1] > totals[2], totals
    assert grade == "red"
    # the decline is in the totals themselves, not only the critical measure
    plain = replace(ENTERPRISE, critical_measures=())
    assert score_account(signals, plain, as_of=at(150), previous_grade=None).grade == "red"


def test_new_account_with_little_data_is_not_red() -> None:
    h = History()
    h.contract(0, seats=50, start=0, segment="enterprise")
    assert _score(h, 1).grade != "red"  # nothing but a contract
    assert _score(h, 1).coverage == 0.0
    h.usage(2, "u-1")
    h.usage(3, "u-2")
    h.usage(4, "u-3", "dashboards")
    h.interaction(4, "email", "outbound", "c-1")
    score = _score(h, 5)
    assert score.grade != "red"
    usage = score.components["usage"]
    assert usage.facts["utilisation_target_pct"] is None  # 3 of 50 seats is not judged in onboarding
    assert score.components["sentiment"].score is None  # no survey yet: not a detractor
    assert score.components["sentiment"].missing == "no survey answers or rated interactions yet"


def test_missing_data_policies() -> None:
    h = History()
    h.usage(0, "u-1")
    signals = h.signals()
    base = replace(ENTERPRISE, critical_measures=())
    excluded = score_account(signals, base, as_of=at(1), previous_grade=None)
    assert excluded.total == excluded.components["usage"].score == 100.0
    neutral = score_account(signals, replace(base, missing_data="neutral"), as_of=at(1), previous_grade=None)
    assert neutral.total == round(0.25 * 100 + 0.75 * 75, 1)
    zero = score_account(signals, replace(base, missing_data="zero"), as_of=at(1), previous_grade=None)
    assert zero.total == 25.0
    assert excluded.coverage == neutral.coverage == zero.coverage == 0.25


def test_segment_weights_change_the_total_as_configured() -> None:
    h = healthy_account(days=60)
    h.ticket(55, "t-u", "urgent")
    h.ticket(56, "t-h", "high")
    h.contact(50, "c-0", "champion", "left")
    signals = h.signals()
    same_targets = DEFAULT_SCORECARDS["default"]
    usage_heavy = replace(same_targets, weights={"usage": 6, "engagement": 1, "sentiment": 1, "support": 1,
                                                 "relationship": 1})
    people_heavy = replace(same_targets, weights={"usage": 1, "engagement": 2, "sentiment": 1, "support": 2,
                                                  "relationship": 4})
    a = score_account(signals, usage_heavy, as_of=at(60), previous_grade=None)
    b = score_account(signals, people_heavy, as_of=at(60), previous_grade=None)
    c = component_scores(a)
    assert c == component_scores(b)  # same signals, same targets: same components
    assert c == {"usage": 100.0, "engagement": 100.0, "sentiment": 88.3, "support": 40.7, "relationship": 64.0}
    assert a.total == round((6 * 100 + 100 + 88.3 + 40.7 + 64) / 10, 1) == 89.3
    assert b.total == round((100 + 2 * 100 + 88.3 + 2 * 40.7 + 4 * 64) / 10, 1) == 72.6


def test_hysteresis_keeps_a_hovering_score_from_flapping() -> None:
    t = GradeThresholds(green_enter=70, green_exit=65, red_enter=40, red_exit=45)
    grade = "yellow"
    seen = []
    for total in (71, 66, 68, 65.0, 64.9, 67, 69.9, 70):
        grade = grade_with_hysteresis(total, grade, t)
        seen.append(grade)
    assert seen == ["green", "green", "green", "green", "yellow", "yellow", "yellow", "green"]
    grade = "yellow"
    seen = []
    for total in (39.9, 42, 44.9, 45, 41, 39):
        grade = grade_with_hysteresis(total, grade, t)
        seen.append(grade)
    assert seen == ["red", "red", "red", "yellow", "yellow", "red"]
    assert grade_with_hysteresis(66, None, t) == "yellow"  # no history: enter thresholds apply


def test_score_account_uses_the_previous_grade_for_hysteresis() -> None:
    h = healthy_account(days=60)
    h.ticket(58, "t-1", "urgent")
    signals = h.signals()
    plain = replace(DEFAULT_SCORECARDS["default"], critical_measures=())
    total = score_account(signals, plain, as_of=at(60), previous_grade=None).total
    bands = GradeThresholds(green_enter=total + 2, green_exit=total - 2, red_enter=40, red_exit=45)
    card = replace(plain, thresholds=bands)  # the score sits between green's exit and enter
    assert score_account(signals, card, as_of=at(60), previous_grade="green").grade == "green"
    assert score_account(signals, card, as_of=at(60), previous_grade="yellow").grade == "yellow"
    assert score_account(signals, card, as_of=at(60), previous_grade=None).grade == "yellow"


def test_critical_measure_forces_its_grade_whatever_the_total() -> None:
    h = healthy_account(days=60)
    h.ticket(52, "t-9", "urgent")
    six_days = _score(h, 58.5)
    assert six_days.grade == "green" and six_days.forced_by is None
    nine_days = _score(h, 61.5)
    assert nine_days.total >= 82 and nine_days.grade == "yellow"  # an urgent ticket a week old caps at yellow
    assert nine_days.forced_by == "urgent_ticket_open_days"
    assert nine_days.forced_detail == (
        "an urgent ticket open for 9 days forces yellow (critical measure: urgent_ticket_open_days >= 7)"
    )
    red_card = replace(ENTERPRISE, critical_measures=(CriticalMeasure("support", "urgent_ticket_open_days", 7, "red"),))
    assert _score(h, 61.5, card=red_card).grade == "red", "a scorecard can make it red"
    h.close(62, "t-9")
    assert _score(h, 62.5, previous="yellow").grade == "green"


def test_champion_leaving_lowers_relationship() -> None:
    h = healthy_account(days=100)
    before = _score(h, 99.5)
    h.contact(100, "c-0", "champion", "left")
    after = _score(h, 112.5)
    assert (after.components["relationship"].score or 0) < (before.components["relationship"].score or 0)
    assert after.components["relationship"].facts["champion_unreplaced_days"] == 12
    key = next(p for p in after.components["relationship"].parts if p.name == "key_contacts")
    assert key.detail == "champion Jane (c-0) left 12 days ago and no replacement has joined"


def test_health_score_json_round_trip() -> None:
    h = healthy_account(days=30)
    h.ticket(25, "t-1", "urgent")
    score = _score(h, 33, previous="green")
    raw = json.loads(json.dumps(health_score_to_json(score)))
    assert health_score_from_json(raw) == score
    empty = score_account(EMPTY_SIGNALS, ENTERPRISE, as_of=at(0), previous_grade=None)
    assert health_score_from_json(json.loads(json.dumps(health_score_to_json(empty)))) == empty


def test_a_daily_count_scores_like_the_events_it_sums() -> None:
    """Telemetry sent one event per use or as one count per feature and day (no user ids either way) is
    the same usage: the score, the grade and every usage fact agree. The signal-quality books show it at
    scale: socialnet7's event sets score exactly as the daily sets do on the same accounts."""
    per_use, per_day = History("u"), History("d")
    for h in (per_use, per_day):
        h.contract(0, seats=0)
    for day in range(120):
        counts = {"reports": 3 + day % 5, "exports": 1 if day % 3 else 0}
        if day > 90:  # and a fall, so that the trend and the level have something to say
            counts = {"reports": 1 + day % 2, "exports": 0}
        for feature, count in counts.items():
            for n in range(count):
                per_use.usage(day + 0.01 * n, None, feature)
            if count:
                per_day.usage(day + 0.6249, None, feature, quantity=float(count))  # 23:59:51
    for day in (30.9, 75.9, 119.9):
        a, b = _score(per_use, day), _score(per_day, day)
        assert (a.total, a.grade) == (b.total, b.grade), day
        facts_a, facts_b = dict(a.components["usage"].facts), dict(b.components["usage"].facts)
        # How many usage records arrived is a fact about the telemetry: the one fact that differs.
        assert facts_a.pop("usage_events_30") > facts_b.pop("usage_events_30")
        assert facts_a == facts_b, day
    fallen = _score(per_day, 119.9)
    assert fallen.components["usage"].score is not None and fallen.components["usage"].score < 60
