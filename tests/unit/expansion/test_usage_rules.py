"""usage_growth and plan_limit on hand-built histories of aggregate telemetry (no user ids): when
they fire, what they say, and the cases that must not fire."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from services.expansion.domain import CatalogueInvalid, Thresholds, build_norms, evaluate_triggers, parse_catalogue
from services.expansion.domain.usage_rules import plan_limit, usage_growth
from tests.unit.expansion.factories import Story, at, default_catalogue, snap_of

pytestmark = pytest.mark.unit
CATALOGUE = default_catalogue()
T = Thresholds()
LIMITED = parse_catalogue({"products": [
    {"id": "core", "tier": 1, "list_price_per_seat": 600,
     "limits": {"api_calls": {"per_30_days": 3000}, "exports": {"per_30_days": 10, "per": "seat"}}},
    {"id": "scale", "tier": 2, "list_price_per_seat": 200, "prerequisites": ["core"],
     "limits": {"api_calls": {"per_30_days": 30000}}},
]})


def _daily(story: Story, first: int, last: int, feature: str, quantity: float) -> None:
    """One aggregated count per day, no user id (a daily roll-up from a billing or metering system)."""
    for day in range(first, last + 1):
        story.add(day + 0.5, "usage.recorded", {"feature": feature, "quantity": quantity})


def _growing(recent: float, *, baseline: float = 100.0, seats: int = 10) -> Story:
    story = Story("acct")
    story.contract(0, seats=seats)
    _daily(story, 1, 60, "api_calls", baseline)
    _daily(story, 61, 90, "api_calls", recent)
    story.add(91.2, "usage.recorded", {"feature": "api_calls", "quantity": 1})  # day 91: the windows close
    return story


def test_usage_growth_fires_on_daily_counts_without_user_ids() -> None:
    [trigger] = usage_growth(snap_of(_growing(200.0)), CATALOGUE, T, build_norms([]))
    assert trigger.kind == "usage_growth" and trigger.product == "core"
    assert trigger.reason == ("usage x2.00 against its previous 60 days (api_calls 6,000 in the last 30 days "
                              "against 3,000 before); too few similar accounts (-/core) to compare with: "
                              "propose more core")
    assert trigger.estimated_arr_uplift == Decimal("60000.00")  # ARR x (2 - 1)
    assert trigger.confidence == pytest.approx(0.4 + 0.3 * (2 - 1.3) / 1.3 + 0.3 * 0.5, abs=1e-4)
    assert trigger.evidence_event_ids[-1] == "acct-00000"  # the contract closes the evidence


@pytest.mark.parametrize("recent", [100.0, 125.0, 60.0])
def test_usage_growth_does_not_fire_on_steady_slow_or_falling_usage(recent: float) -> None:
    assert usage_growth(snap_of(_growing(recent)), CATALOGUE, T, build_norms([])) == []


def test_usage_growth_needs_a_baseline_a_new_feature_is_not_growth() -> None:
    story = Story("acct")
    story.contract(0)
    _daily(story, 61, 90, "api_calls", 500.0)  # nothing before: no baseline
    story.add(91.2, "usage.recorded", {"feature": "api_calls"})
    assert usage_growth(snap_of(story), CATALOGUE, T, build_norms([])) == []


def test_units_never_mix_one_big_feature_doubling_is_not_the_account_growing() -> None:
    story = _growing(100.0)  # api_calls flat
    _daily(story, 1, 90, "storage_gb", 2.0)  # flat
    _daily(story, 1, 60, "deal_value", 80_000.0)
    _daily(story, 61, 90, "deal_value", 160_000.0)  # the largest numbers double
    assert usage_growth(snap_of(story), CATALOGUE, T, build_norms([])) == []  # median of ratios: 1.0


def test_usage_growth_judges_whole_days_so_todays_events_change_nothing() -> None:
    story = _growing(100.0)
    for hour in range(10):
        story.add(91.3 + hour / 100, "usage.recorded", {"feature": "api_calls", "quantity": 10_000})
    assert usage_growth(snap_of(story), CATALOGUE, T, build_norms([])) == []


def test_usage_growth_against_the_cohort_fires_only_for_the_fastest_growers() -> None:
    snap = snap_of(_growing(200.0))
    everyone_faster = build_norms([("-/core", 3.0)] * 9 + [("-/core", 2.0)])
    assert usage_growth(snap, CATALOGUE, T, everyone_faster) == []
    slower = build_norms([("-/core", 1.0 + k / 20) for k in range(9)] + [("-/core", 2.0)])
    [trigger] = usage_growth(snap, CATALOGUE, T, slower)
    assert "faster than 100% of 10 similar accounts (-/core)" in trigger.reason
    other_cohort = build_norms([("smb/core", 3.0)] * 20)  # a different segment says nothing about this one
    assert "too few similar accounts" in usage_growth(snap, CATALOGUE, T, other_cohort)[0].reason


def _pressing(used_per_day: float, *, seats: int = 10, feature: str = "api_calls") -> Story:
    story = Story("acct")
    story.contract(0, seats=seats)
    _daily(story, 1, 30, feature, used_per_day)
    story.add(31.2, "usage.recorded", {"feature": feature, "quantity": 0})
    return story


def test_plan_limit_fires_at_90_percent_and_proposes_the_plan_that_includes_more() -> None:
    [trigger] = plan_limit(snap_of(_pressing(95.0)), LIMITED, T)  # 2,850 of 3,000
    assert (trigger.kind, trigger.product) == ("plan_limit", "scale")
    assert trigger.reason == ("api_calls: 2,850 in the last 30 days, 95% of the 3,000 the plan includes (core); "
                              "scale includes 30,000 per 30 days")
    assert trigger.estimated_arr_uplift == Decimal("2000.00")  # scale's 200 x 10 seats
    assert trigger.confidence == pytest.approx(0.5 + 0.5 * (0.95 - 0.9) / 0.2, abs=1e-4)


def test_plan_limit_per_seat_without_a_bigger_plan_proposes_more_capacity() -> None:
    [trigger] = plan_limit(snap_of(_pressing(4.0, feature="exports")), LIMITED, T)  # 120 of 10 x 10 seats
    assert trigger.product == "core" and trigger.reason.endswith("propose more capacity on the current plan")
    assert trigger.estimated_arr_uplift == Decimal("1200.00")  # 600 x 10 seats x 20% over
    assert trigger.confidence == 1.0


@pytest.mark.parametrize(("per_day", "seats", "feature"), [
    (80.0, 10, "api_calls"),  # 80% of the limit
    (4.0, 0, "exports"),  # a per-seat limit on an account without seats: unknown, not exceeded
    (1_000.0, 10, "search"),  # a feature the plan does not limit
])
def test_plan_limit_does_not_fire(per_day: float, seats: int, feature: str) -> None:
    assert plan_limit(snap_of(_pressing(per_day, seats=seats, feature=feature)), LIMITED, T) == []


def test_plan_limit_does_not_fire_on_the_default_catalogue_which_has_no_limits() -> None:
    assert plan_limit(snap_of(_pressing(1e9)), CATALOGUE, T) == []


def test_plan_limit_counts_whole_days_only() -> None:
    story = _pressing(80.0)
    story.add(31.5, "usage.recorded", {"feature": "api_calls", "quantity": 10_000})  # today: not yet
    assert plan_limit(snap_of(story), LIMITED, T) == []
    assert plan_limit(snap_of(story, as_of=at(32.1)), LIMITED, T) != []  # tomorrow it is


def test_plan_limit_comes_before_usage_growth_for_the_same_product() -> None:
    story = Story("acct")
    story.contract(0, seats=10)
    _daily(story, 1, 60, "exports", 1.0)
    _daily(story, 61, 90, "exports", 5.0)  # x5 and 150 of 100
    story.add(91.2, "usage.recorded", {"feature": "exports", "quantity": 0})
    kinds = [(t.kind, t.product) for t in evaluate_triggers(snap_of(story), LIMITED, T)]
    assert kinds[:1] == [("plan_limit", "core")] and ("usage_growth", "core") not in kinds


@pytest.mark.parametrize("limits", [
    {"api_calls": {"per_30_days": 0}}, {"api_calls": {"per_30_days": 10, "per": "user"}}, {"api_calls": 10}, [1],
])
def test_catalogue_rejects_malformed_limits(limits: object) -> None:
    with pytest.raises(CatalogueInvalid, match="limits"):
        parse_catalogue({"products": [{"id": "core", "tier": 1, "list_price_per_seat": 1, "limits": limits}]})


def test_account_growth_is_the_median_on_a_log_scale() -> None:
    from services.expansion.domain.usage import FeatureGrowth, account_growth

    growths = [FeatureGrowth("a", 2, 1, 2.0), FeatureGrowth("b", 1, 2, 0.5), FeatureGrowth("c", 3, 1, 3.0)]
    assert account_growth(growths) == pytest.approx(2.0)
    assert account_growth(growths[:2]) == pytest.approx(math.exp(0.0))
    assert account_growth([]) is None
