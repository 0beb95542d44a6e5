"""Catalogue validation, the signals' fold (order-independent, bounded) and their JSON round trip."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.expansion.domain import CatalogueInvalid, ExpansionSignals, apply_events, parse_catalogue
from services.expansion.domain.codec import signals_from_json, signals_to_json
from services.expansion.domain.signals import MAX_EVIDENCE
from shared.signal_events import signal_event
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


def test_contracts_stored_before_events_were_kept_load_with_their_figures_segment_and_cancellation() -> None:
    stored = {"latest_at": "2026-07-01T09:00:00+00:00", "segment": ["2026-06-01T09:00:00+00:00", "k2-e", "smb"],
              "contracts": {
                  "k1": {"seats": 12, "products": ["core"], "arr": "70000", "currency": "USD",
                         "at": "2026-06-01T09:00:00+00:00", "event_id": "k1-e", "cancelled_on": None},
                  "k2": {"seats": 5, "products": ["planning"], "arr": "9000", "currency": "EUR",
                         "at": "2026-06-10T09:00:00+00:00", "event_id": "k2-c", "cancelled_on": "2026-08-01"}}}
    signals = signals_from_json(stored)
    july, august = datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC)
    assert signals.licensed_seats(july) == 17 and signals.owned_products(july) == {"core", "planning"}
    assert signals.arr_by_currency(july) == {"EUR": Decimal(9000), "USD": Decimal(70000)}
    assert signals.licensed_seats(august) == 12 and signals.segment_name == "smb"
    assert sorted(t.event_id for t in signals.live_contracts(july)) == ["k1-e", "k2-c/terms"]
    assert signals_from_json(signals_to_json(signals)) == signals


def test_a_late_cancellation_takes_effect_though_an_amendment_after_it_arrived_first() -> None:
    """Expansion used to drop a contract event older than the latest one it held."""
    terms = {"contract_id": "k1", "arr": "70000", "seats": 12, "products": ["core"], "start_date": "2026-01-01",
             "end_date": "2026-12-31"}
    signed = signal_event(event_id="s", event_type="contract.signed", occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
                          data=terms)
    amended = signal_event(event_id="a", event_type="contract.amended", occurred_at=datetime(2026, 5, 1, tzinfo=UTC),
                           data={**terms, "seats": 8})
    cancelled = signal_event(event_id="c", event_type="contract.cancelled",
                             occurred_at=datetime(2026, 4, 1, tzinfo=UTC),
                             data={"contract_id": "k1", "end_date": "2026-06-30"})
    signals = apply_events(apply_events(ExpansionSignals(), [signed, amended]), [cancelled])
    assert signals.licensed_seats(datetime(2026, 6, 1, tzinfo=UTC)) == 8
    assert signals.licensed_seats(datetime(2026, 7, 1, tzinfo=UTC)) == 0
