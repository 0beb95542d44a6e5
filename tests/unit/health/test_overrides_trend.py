"""Manual overrides (visible expiry) and the 7/30/90-day trend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.health.domain import (
    DEFAULT_SCORECARDS,
    HealthScore,
    Override,
    apply_overrides,
    score_account,
    trend,
)
from services.health.domain.overrides import override_changes
from tests.unit.health.factories import at, healthy_account

pytestmark = pytest.mark.unit

ENTERPRISE = DEFAULT_SCORECARDS["enterprise"]


def _score() -> HealthScore:
    h = healthy_account(days=60)
    h.ticket(50, "t-1", "urgent")
    return score_account(h.signals(), ENTERPRISE, as_of=at(60), previous_grade="green")


def test_grade_override_shows_beside_the_computed_grade_until_it_expires() -> None:
    score = _score()
    assert score.grade == "yellow" and score.forced_by == "urgent_ticket_open_days"
    override = Override("grade", "green", "fix shipped, customer confirmed", "ann@orchard", at(70))
    now = apply_overrides(score, [override], as_of=at(61), scorecard=ENTERPRISE)
    assert (now.computed_grade, now.effective_grade) == ("yellow", "green")
    assert now.overridden and now.active == (override,) and now.expired == ()
    assert now.notes == ("grade set to green by ann@orchard (fix shipped, customer confirmed) until 2026-03-16",)

    later = apply_overrides(score, [override], as_of=at(73), scorecard=ENTERPRISE)
    assert later.effective_grade == "yellow" and not later.overridden
    assert later.expired == (override,)
    assert later.notes == ("grade set to green by ann@orchard (fix shipped, customer confirmed) "
                           "expired 3 days ago (2026-03-16)",)


def test_sentiment_override_retotals_with_the_scorecard() -> None:
    score = score_account(healthy_account(days=60).signals(), ENTERPRISE, as_of=at(60.9), previous_grade=None)
    sentiment = score.components["sentiment"]
    assert sentiment.score is not None
    override = Override("sentiment", 0.0, "exec escalation call went badly", "raj@orchard", at(90))
    effective = apply_overrides(score, [override], as_of=at(61), scorecard=ENTERPRISE)
    weight = sentiment.effective_weight
    assert effective.effective_total == pytest.approx(score.total - weight * sentiment.score, abs=0.1)
    assert effective.computed_total == score.total and effective.effective_grade == "green"


def test_last_active_override_of_a_kind_wins() -> None:
    score = _score()
    first = Override("grade", "green", "first", "a", at(80))
    second = Override("grade", "yellow", "second", "b", at(80))
    assert apply_overrides(score, [first, second], as_of=at(61), scorecard=ENTERPRISE).effective_grade == "yellow"


def test_bad_overrides_are_rejected() -> None:
    with pytest.raises(ValueError, match="grade override must be one of"):
        Override("grade", "purple", "r", "a", at(1))
    with pytest.raises(ValueError, match="0-100"):
        Override("sentiment", 140, "r", "a", at(1))
    with pytest.raises(ValueError, match="reason"):
        Override("grade", "red", " ", "a", at(1))


def test_trend_over_7_30_90_days() -> None:
    history = [(at(d), v) for d, v in ((0, 80.0), (40, 78.0), (75, 70.0), (84, 66.0), (90, 60.5))]
    assert trend(history, at(90)) == {"7d": -9.5, "30d": -17.5, "90d": -19.5}
    assert trend(history, at(20)) == {"7d": 0.0, "30d": None, "90d": None}
    assert trend([], at(20)) == {"7d": None, "30d": None, "90d": None}


NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(("current", "removing", "expected"), [
    (None, False, [("set", NOW)]),                                               # the first one
    (NOW + timedelta(days=3), False, [("changed", NOW)]),                        # over an active one
    (NOW - timedelta(days=3), False, [("expired", NOW - timedelta(days=3)), ("set", NOW)]),  # over a run-out one
    (NOW + timedelta(days=3), True, [("removed", NOW)]),
    (NOW - timedelta(days=3), True, [("expired", NOW - timedelta(days=3)), ("removed", NOW)]),
    (None, True, []),                                                            # nothing to remove
])
def test_override_history_records_what_happened_and_an_expiry_nobody_acted_on(
    current: datetime | None, removing: bool, expected: list[tuple[str, datetime]]
) -> None:
    assert override_changes(current, now=NOW, removing=removing) == expected
