"""Each upsell rule on hand-built histories: fires, does not fire, its uplift and confidence."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.expansion.domain import Thresholds, evaluate_triggers
from services.expansion.domain.rules import high_satisfaction, premium_feature_use, seat_limit, whitespace_triggers
from tests.unit.expansion.factories import Story, at, default_catalogue, snap_of, steady_story, upsell_story

pytestmark = pytest.mark.unit
CATALOGUE = default_catalogue()
T = Thresholds()


def _seats(active: int, seats: int = 60) -> Story:
    story = Story("acct")
    story.contract(0, seats=seats)
    story.usage(1, 3, active)
    return story


def test_seat_limit_fires_at_90_percent_with_reason_uplift_and_confidence() -> None:
    [trigger] = seat_limit(snap_of(_seats(58)), CATALOGUE, T)
    assert trigger.kind == "seat_limit" and trigger.product == "core"
    assert trigger.reason == "58 of 60 seats active in the last 30 days (97%): propose 6 more seats"
    # 6 extra seats (10% headroom beats the gap of -2) x core's 600 list price
    assert trigger.estimated_arr_uplift == Decimal("3600.00")
    # 0.5 + 0.5 x (0.9667 - 0.9) / (1.1 - 0.9)
    assert trigger.confidence == pytest.approx(0.5 + 0.5 * (58 / 60 - 0.9) / 0.2, abs=1e-4)
    assert trigger.evidence_event_ids[0] == "acct-00000"  # the contract, then recent usage


def test_seat_limit_above_the_seats_proposes_the_gap_and_is_fully_confident() -> None:
    [trigger] = seat_limit(snap_of(_seats(70)), CATALOGUE, T)
    assert trigger.estimated_arr_uplift == Decimal(10 * 600) and trigger.confidence == 1.0


def test_seat_limit_does_not_fire_below_the_ratio_or_without_a_contract() -> None:
    assert seat_limit(snap_of(_seats(53)), CATALOGUE, T) == []
    assert seat_limit(snap_of(_seats(53)), CATALOGUE, Thresholds(seat_limit_ratio=0.85)) != []
    no_contract = Story("acct")
    no_contract.usage(1, 2, 5)
    assert seat_limit(snap_of(no_contract), CATALOGUE, T) == []


def test_users_older_than_30_days_do_not_count() -> None:
    story = _seats(58)
    story.usage(40, 40, 10)
    snap = snap_of(story)
    assert snap.active_users == 10 and seat_limit(snap, CATALOGUE, T) == []


def test_premium_feature_use_fires_after_three_days_for_the_product_not_owned() -> None:
    story = Story("acct")
    story.contract(0, seats=20)
    evidence = story.feature(range(1, 4), "forecasting")
    [trigger] = premium_feature_use(snap_of(story), CATALOGUE, T)
    assert trigger.product == "planning" and "forecasting (3 of the last 30 days)" in trigger.reason
    assert trigger.estimated_arr_uplift == Decimal(20 * 300) and set(trigger.evidence_event_ids) == set(evidence)
    # 0.4 + 0.3 x 3/10 + 0.3 x (1 of 2 premium features)
    assert trigger.confidence == pytest.approx(0.4 + 0.09 + 0.15)


def test_premium_feature_use_not_for_two_days_nor_for_an_owned_product() -> None:
    story = Story("acct")
    story.contract(0, seats=20)
    story.feature(range(1, 3), "forecasting")
    assert premium_feature_use(snap_of(story), CATALOGUE, T) == []
    owner = Story("acct")
    owner.contract(0, seats=20, products=("core", "planning"))
    owner.feature(range(1, 10), "forecasting")
    assert premium_feature_use(snap_of(owner), CATALOGUE, T) == []


def test_high_satisfaction_needs_a_recent_promoter_and_healthy_adoption() -> None:
    snap = snap_of(upsell_story())
    [trigger] = high_satisfaction(snap, CATALOGUE, T)
    assert trigger.kind == "high_satisfaction" and trigger.reason.startswith("NPS 10 on 2026-06-19 and 10 of 10")
    assert trigger.confidence == 1.0  # 0.4 + 0.3 x strength 1 (NPS 10) + 0.3 x ratio 1
    assert high_satisfaction(snap_of(steady_story()), CATALOGUE, T) == [], "70% adoption is not enough"
    assert high_satisfaction(snap_of(upsell_story(), as_of=at(18 + 91)), CATALOGUE, T) == [], "survey too old"
    detractor = upsell_story()
    detractor.survey(19, "nps", 6)
    assert high_satisfaction(snap_of(detractor), CATALOGUE, T) == [], "the latest answer counts"


def test_high_satisfaction_by_csat_and_it_skips_products_taken_by_earlier_rules() -> None:
    story = Story("acct")
    story.contract(0, seats=4)
    story.usage(1, 3, 4)
    story.survey(3, "csat", 5)
    [first] = high_satisfaction(snap_of(story), CATALOGUE, T)
    [other] = high_satisfaction(snap_of(story), CATALOGUE, T, taken=frozenset({first.product}))
    assert first.reason.startswith("CSAT 5") and other.product != first.product


def test_whitespace_trigger_only_at_the_minimum_fit() -> None:
    snap = snap_of(upsell_story())
    products = {t.product: t for t in whitespace_triggers(snap, CATALOGUE, T)}
    assert set(products) == {"analytics", "planning", "automation"}, "governance needs analytics first"
    assert products["planning"].confidence == 1.0 and products["analytics"].confidence == 0.8
    assert whitespace_triggers(snap_of(steady_story()), CATALOGUE, T) == []


def test_evaluate_triggers_proposes_each_product_once() -> None:
    triggers = evaluate_triggers(snap_of(upsell_story()), CATALOGUE, T)
    assert [t.kind for t in triggers] == ["seat_limit", "premium_feature_use", "high_satisfaction", "whitespace"]
    assert len({t.product for t in triggers}) == len(triggers)
    assert evaluate_triggers(snap_of(steady_story()), CATALOGUE, T) == []


def test_a_cancelled_contract_no_longer_counts() -> None:
    story = _seats(58)
    story.add(2, "contract.cancelled", {"contract_id": "acct-k1", "end_date": at(3).date().isoformat()})
    story.usage(4, 4, 58)
    snap = snap_of(story)
    assert snap.seats == 0 and snap.owned == frozenset()
