"""Young accounts (issue 8, cause 6): a customer in its first quarter is not proven yet, and the usage
it has had no time to show is not held against it.

Both behaviours were measured on the backtest (docs/signal-quality.md, "Young accounts"): the books
tried churn most in their first months, and a feature that established accounts use twice a month says
nothing about an account three days old that has not used it yet."""

from __future__ import annotations

import pytest

from services.health.domain import DEFAULT_SCORECARDS, HealthScore, score_account
from services.health.domain.explain import top_reasons
from services.health.domain.measures import ComponentScore, Part
from services.health.domain.norms import QUANTILES, CohortNorms, Norm
from services.health.domain.scoring import combine
from services.health.domain.usage import level_score
from tests.unit.health.factories import History, at

pytestmark = pytest.mark.unit

CARD = DEFAULT_SCORECARDS["default"]
BANDS = CARD.thresholds
YOUTH = BANDS.green_enter - BANDS.red_enter  # the most a brand-new customer is held down: one yellow band
PRIOR_DAYS = 90


def _steady_usage(contract_start: int, until: int) -> History:
    """Daily usage of three features from day 0 on (no user ids), under a contract from `contract_start`."""
    h = History()
    h.contract(0, start=contract_start, end=until + 300, segment=None)  # the same first event either way
    for day in range(0, until + 1):
        for n, feature in enumerate(("reports", "dashboards", "exports")):
            h.usage(day + 0.1 + n / 100, None, feature, 5)
    return h


def _score(h: History, day: float, previous: str | None = None, norms: CohortNorms | None = None) -> HealthScore:
    if norms is None:
        return score_account(h.signals(day), CARD, as_of=at(day), previous_grade=previous)
    return score_account(h.signals(day), CARD, as_of=at(day), previous_grade=previous, norms=norms)


def test_a_customer_in_its_first_quarter_reads_lower_than_the_same_usage_from_an_established_one() -> None:
    established = _score(_steady_usage(-400, 20), 20.5)
    young = _score(_steady_usage(0, 20), 20.5)
    assert established.components["usage"].score == young.components["usage"].score  # the same evidence
    expected = round(established.total - YOUTH * (1 - 20 / PRIOR_DAYS), 1)
    assert expected >= BANDS.red_enter
    assert young.total == expected
    assert young.total < established.total


def test_the_discount_fades_over_the_first_quarter() -> None:
    history = _steady_usage(0, 100)
    totals = [_score(history, day + 0.5).total for day in (10, 40, 70, 95)]
    assert totals == sorted(totals) and totals[0] < totals[-1]
    assert totals[-1] == _score(_steady_usage(-400, 100), 95.5).total  # from 90 days on, nothing left


def _usage_component(score: float, tenure_days: int) -> ComponentScore:
    return ComponentScore("usage", score, {"customer_days": tenure_days},
                          (Part("level", score, 1.0, "usage at the cohort's typical level"),))


def test_youth_alone_never_turns_an_account_red_nor_keeps_it_red() -> None:
    # just above the red line: held at the line, never below it
    above = combine([_usage_component(BANDS.red_enter + 3, 5)], CARD, as_of=at(5), previous_grade="yellow")
    assert above.total == BANDS.red_enter and above.grade == "yellow"
    # already red on its usage: unchanged
    red = combine([_usage_component(60.0, 5)], CARD, as_of=at(5), previous_grade=None)
    assert red.total == 60.0 and red.grade == "red"
    # red and recovering past the exit line: it leaves red as it would have without the discount
    leaving = combine([_usage_component(BANDS.red_exit + 5, 5)], CARD, as_of=at(5), previous_grade="red")
    assert leaving.total == BANDS.red_exit and leaving.grade == "yellow"


def test_the_discount_is_explained_in_words() -> None:
    young = _score(_steady_usage(0, 20), 20.5)
    reasons = [r for r in top_reasons(young, 10) if "first 90 days" in r.detail]
    assert len(reasons) == 1
    assert reasons[0].delta == -round(YOUTH * (1 - 20 / PRIOR_DAYS), 1)
    assert "a customer for 20 days" in reasons[0].detail


def _norm(values: list[float]) -> Norm:
    assert len(values) == len(QUANTILES)
    return Norm(tuple(values), accounts=100, users=sum(1 for v in values if v > 0) or 1)


# established accounts' first 30 days: "reports" about 300 times (typical 300), "audit" twice (typical 2)
ONBOARDING_NORMS = CohortNorms(version=1, cohorts={"all": {
    "onboarding_30:reports": _norm([30.0 * q for q in range(21)]),
    "onboarding_30:audit": _norm([0.0, 0.0, 0.0] + [1.0] * 7 + [2.0] * 6 + [3.0, 4.0, 5.0, 6.0, 8.0]),
    "qty_30:reports": _norm([30.0 * q for q in range(21)]),
    "qty_30:audit": _norm([0.0, 0.0, 0.0] + [1.0] * 7 + [2.0] * 6 + [3.0, 4.0, 5.0, 6.0, 8.0]),
    "active_days_30": _norm([float(min(30, d * 2)) for d in range(21)]),
}})


def _young_reports_only(days: int) -> History:
    h = History()
    h.contract(0, start=0, segment=None)
    for day in range(0, days + 1):
        h.usage(day + 0.1, None, "reports", 10)  # the typical pace: 300 in 30 days
    return h


def _level(score: HealthScore) -> Part:
    return next(p for p in score.components["usage"].parts if p.name == "level")


def test_a_rare_feature_not_used_yet_in_the_first_days_is_not_held_against_the_account() -> None:
    level = _level(_score(_young_reports_only(3), 3.5, norms=ONBOARDING_NORMS))
    # 30 "reports" in 3 complete days is the typical pace; "audit" (twice a month) cannot be expected yet
    assert level.score == level_score(0.5)
    assert "audit" not in level.detail


def test_a_rare_feature_counts_once_the_typical_account_would_have_used_it() -> None:
    # by day 20 a typical account has used "audit" once or more (2 x 20/30 >= 1): not using it is behind
    level = _level(_score(_young_reports_only(20), 20.5, norms=ONBOARDING_NORMS))
    assert "audit" in level.detail
    assert level.score is not None and level.score < level_score(0.5)
