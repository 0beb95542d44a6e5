"""usage_level on hand-built histories of aggregate telemetry (no user ids, no plan limits): an
account whose 30-day usage stands high among the accounts on the same plan, feature by feature."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.expansion.domain import Thresholds, build_norms, evaluate_triggers
from services.expansion.domain.cohorts import CohortNorms
from services.expansion.domain.usage_level import recent_volumes, usage_level
from tests.unit.expansion.factories import Story, default_catalogue, snap_of

pytestmark = pytest.mark.unit
CATALOGUE = default_catalogue()
T = Thresholds()


def _steady(per_day: dict[str, float], *, seats: int = 10, days: int = 90) -> Story:
    """Flat daily roll-ups (no growth at all), then one event on the next day so the windows close."""
    story = Story("acct")
    story.contract(0, seats=seats)
    for day in range(1, days + 1):
        for feature, quantity in per_day.items():
            story.add(day + 0.5, "usage.recorded", {"feature": feature, "quantity": quantity})
    story.add(days + 1.2, "usage.recorded", {"feature": next(iter(per_day)), "quantity": 0})
    return story


def _cohort(volumes: list[dict[str, float]], key: str = "-/core") -> CohortNorms:
    return build_norms([], [(key, v) for v in volumes])


# nineteen accounts on core, each using api_calls and reports at 30-day volumes 100..1900 and 10..190
PEERS = [{"api_calls": 100.0 * k, "reports": 10.0 * k} for k in range(1, 20)]


def test_usage_level_fires_for_a_flat_account_that_uses_more_than_its_plan_cohort() -> None:
    story = _steady({"api_calls": 100.0, "reports": 10.0})  # 3,000 and 300 per 30 days: above every peer
    snap = snap_of(story)
    assert snap.usage_growth == pytest.approx(1.0)  # no growth: usage_growth has nothing to see
    norms = _cohort([*PEERS, recent_volumes(snap)])
    [trigger] = evaluate_triggers(snap, CATALOGUE, T, norms)
    assert (trigger.kind, trigger.product) == ("usage_level", "core")
    assert trigger.reason == ("usage in the last 30 days above 98% of 20 similar accounts (-/core), the median "
                              "over 2 features (api_calls 3,000 (above 98%); reports 300 (above 98%)): "
                              "propose more core")
    assert trigger.estimated_arr_uplift == Decimal("6000.00")  # 10% of the 60,000 ARR
    assert trigger.confidence == pytest.approx(0.4 + 0.6 * (0.975 - 0.75) / 0.25, abs=1e-4)
    assert trigger.evidence_event_ids[-1] == "acct-00000"  # the contract closes the evidence


def test_usage_level_does_not_fire_for_a_typical_account_of_its_cohort() -> None:
    story = _steady({"api_calls": 1000.0 / 30, "reports": 100.0 / 30})  # about 1,000 and 100: the middle
    snap = snap_of(story)
    assert usage_level(snap, CATALOGUE, T, _cohort([*PEERS, recent_volumes(snap)])) == []


def test_usage_level_is_the_median_over_features_so_one_busy_feature_does_not_decide() -> None:
    peers = [{"api_calls": 100.0 * k, "reports": 10.0 * k, "exports": 1.0 * k} for k in range(1, 20)]
    story = _steady({"api_calls": 1e6, "reports": 1.0, "exports": 0.1})  # one feature far above, two low
    snap = snap_of(story)
    assert usage_level(snap, CATALOGUE, T, _cohort([*peers, recent_volumes(snap)])) == []


def test_each_feature_is_judged_among_its_users_so_accounts_that_use_a_few_of_many_features_compare() -> None:
    """Twenty peers, each using one of four features (five per feature, at 10 to 50 a day): no feature
    is used by most of the cohort. Read against the whole cohort, every account's median would be a
    tie among zeros; read against each feature's users, the account using `a` at 100 a day is above
    the five others who use it."""
    peers = [{feature: 30.0 * k} for feature in "abcd" for k in range(1, 6)]
    story = _steady({"a": 100.0})
    snap = snap_of(story)
    norms = _cohort([*peers, recent_volumes(snap)])
    standing = norms.level("-/core", recent_volumes(snap))
    assert standing is not None and standing.by_feature == (("a", 3000.0, pytest.approx(5.5 / 6)),)
    [trigger] = usage_level(snap, CATALOGUE, T, norms)
    assert "above 92% of 21 similar accounts (-/core), the median over 1 feature (a 3,000" in trigger.reason
    typical = _steady({"a": 3.0, "b": 3.0})  # 90 a month on each: the middle of both features' users
    assert usage_level(snap_of(typical), CATALOGUE, T, _cohort([*peers, recent_volumes(snap_of(typical))])) == []


def test_usage_level_needs_a_cohort_of_the_same_segment_and_plan_of_enough_accounts() -> None:
    snap = snap_of(_steady({"api_calls": 100.0, "reports": 10.0}))
    assert usage_level(snap, CATALOGUE, T, _cohort([*PEERS[:8], recent_volumes(snap)])) == []  # 9 < 10
    assert usage_level(snap, CATALOGUE, T, _cohort(PEERS, key="smb/core")) == []  # another segment
    assert usage_level(snap, CATALOGUE, T, build_norms([])) == []  # no norms: unknown, not high


def test_usage_level_percentile_is_a_threshold() -> None:
    story = _steady({"api_calls": 50.0, "reports": 5.0})  # 1,500 and 150: ties one peer, above 14 of 20
    snap = snap_of(story)
    norms = _cohort([*PEERS, recent_volumes(snap)])
    [trigger] = usage_level(snap, CATALOGUE, T, norms)  # the top quarter, just
    assert "above 75% of 20 similar accounts" in trigger.reason and trigger.confidence == 0.4
    assert usage_level(snap, CATALOGUE, Thresholds(usage_level_percentile=0.8), norms) == []


def test_usage_growth_takes_the_product_first_so_one_moment_gives_one_lead() -> None:
    story = Story("acct")
    story.contract(0, seats=10)
    for day in range(1, 91):
        story.add(day + 0.5, "usage.recorded", {"feature": "api_calls", "quantity": 100.0 if day <= 60 else 300.0})
    story.add(91.2, "usage.recorded", {"feature": "api_calls", "quantity": 0})
    snap = snap_of(story)
    norms = _cohort([*({"api_calls": 100.0 * k} for k in range(1, 20)), recent_volumes(snap)])
    assert [t.kind for t in evaluate_triggers(snap, CATALOGUE, T, norms)] == ["usage_growth"]
    assert [t.kind for t in usage_level(snap, CATALOGUE, T, norms)] == ["usage_level"]


def test_thresholds_reject_a_percentile_outside_the_cohort() -> None:
    with pytest.raises(ValueError, match="usage_level_percentile"):
        Thresholds(usage_level_percentile=1.5)
