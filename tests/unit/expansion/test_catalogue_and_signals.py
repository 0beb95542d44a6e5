"""Catalogue validation, the signals' fold (order-independent, bounded) and their JSON round trip."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from services.expansion.domain import CatalogueInvalid, ExpansionSignals, apply_events, parse_catalogue
from services.expansion.domain.codec import signals_from_json, signals_to_json
from services.expansion.domain.signals import MAX_EVIDENCE
from tests.unit.expansion.factories import Story, default_catalogue, fold, signal_events, upsell_story

pytestmark = pytest.mark.unit


def _product(**overrides: Any) -> dict[str, Any]:
    return {"id": "core", "name": "Core", "tier": 1, "list_price_per_seat": "100", "prerequisites": [],
            "premium_features": [], **overrides}


def test_the_default_catalogue_is_valid() -> None:
    catalogue = default_catalogue()
    assert catalogue.products["planning"].list_price_per_seat == Decimal(300)
    assert catalogue.product_of_feature("forecasting") == catalogue.products["planning"]
    assert catalogue.product_of_feature("reports") is None


@pytest.mark.parametrize(("document", "problem"), [
    ({}, "'products' must be a non-empty list"),
    ({"products": [_product(), _product()]}, "listed twice"),
    ({"products": [_product(prerequisites=["ghost"])]}, "unknown prerequisite 'ghost'"),
    ({"products": [_product(list_price_per_seat="-1")]}, "list_price_per_seat must be a number >= 0"),
    ({"products": [_product(tier=0)]}, "tier must be an integer >= 1"),
    ({"products": [_product(premium_features="x")]}, "premium_features must be a list"),
    ({"products": [_product(premium_features=["x"]), _product(id="b", premium_features=["x"])]},
     "premium feature 'x' belongs to both"),
    ({"products": [_product(prerequisites=["b"]), _product(id="b", prerequisites=["core"])]},
     "its own prerequisite"),
    ({"currency": "usd", "products": [_product()]}, "ISO 4217"),
    ("products: []", "must be a mapping"),
])
def test_catalogue_validation_names_the_problem(document: object, problem: str) -> None:
    with pytest.raises(CatalogueInvalid, match=problem):
        parse_catalogue(document)


def test_fold_is_independent_of_arrival_order_and_round_trips_through_json() -> None:
    story = upsell_story()
    story.survey(19, "csat", 4)
    story.add(5, "contract.amended", {"contract_id": "acct-up-k1", "arr": "70000", "seats": 12,
                                      "products": ["core"], "start_date": "2026-06-06", "end_date": "2027-06-01"})
    events = signal_events(story.events)
    shuffled = list(events)
    random.Random(3).shuffle(shuffled)
    in_order, out_of_order = apply_events(ExpansionSignals(), events), apply_events(ExpansionSignals(), shuffled)
    assert in_order.contracts == out_of_order.contracts
    assert in_order.user_last_seen == out_of_order.user_last_seen and in_order.nps == out_of_order.nps
    assert in_order.features["forecasting"].day_mask == out_of_order.features["forecasting"].day_mask
    assert in_order.licensed_seats(in_order.latest_at) == 12  # type: ignore[arg-type]
    assert signals_from_json(signals_to_json(in_order)) == in_order
    assert signals_from_json({}) == ExpansionSignals()


def test_state_stays_bounded() -> None:
    story = Story("acct")
    story.usage(1, 1, 50)
    story.usage(60, 60, 3)
    signals = fold(story)
    assert len(signals.user_last_seen) == 3, "users unseen for 30 days are dropped"
    assert len(signals.usage_evidence) == MAX_EVIDENCE
    assert signals.features["reports"].days_used(signals.features["reports"].last_day) == 1
