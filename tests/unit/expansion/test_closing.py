"""Opportunities closed without a person: won by the contract event that adds the product (or more
of it), lost by expiry after the TTL without progress; judged in event time inside `decide`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from services.expansion.domain import (
    Decided,
    ExpansionSignals,
    LatestEpisode,
    Thresholds,
    apply_events,
    opportunity_id,
)
from services.expansion.domain.closing import expire, holdings, win
from services.expansion.domain.signals import SignalEvent
from shared.events import UsageRecorded
from tests.unit.expansion.factories import Story, at, decide_story, default_catalogue, signal_events, upsell_story

pytestmark = pytest.mark.unit
CATALOGUE = default_catalogue()
T = Thresholds()


def _decide(story: Story, *, chunk: int | None = None, thresholds: Thresholds = T) -> Decided:
    return decide_story(story, chunk=chunk, catalogue=CATALOGUE, thresholds=thresholds)


def _products(state: Decided, stage: str) -> dict[str, str]:
    return {c.product: c.kind for c in state.closed if c.stage == stage}


def test_an_amendment_adding_the_product_wins_that_opportunity_only() -> None:
    story = upsell_story("a")
    amended = story.contract(25, seats=10, products=("core", "planning"), arr="63000", event_type="contract.amended")
    state = _decide(story)
    assert {"seat_limit", "premium_feature_use", "high_satisfaction"} <= {o.trigger.kind for o in state.opened}
    assert {(c.kind, c.product) for c in state.closed} == {("premium_feature_use", "planning"),
                                                           ("whitespace", "planning")}
    [won] = [c for c in state.closed if c.kind == "premium_feature_use"]
    assert (won.stage, won.closed_by, won.closed_at) == ("won", "contract", at(25))
    assert won.opportunity_id == opportunity_id("a", "premium_feature_use", "planning", 1)
    assert won.evidence_event_ids == (amended,)
    assert won.reason == f"won: contract.amended of contract a-k1 on {at(25).date().isoformat()} added planning"
    assert state.latest["premium_feature_use", "planning"].stage == "won"
    assert state.latest["seat_limit", "core"].stage == "open", "more ARR for planning is not more core seats"


def test_more_seats_of_an_owned_product_win_the_seat_limit_opportunity() -> None:
    story = upsell_story("a")
    story.contract(25, seats=15, products=("core",), arr="90000", event_type="contract.renewed")
    state = _decide(story)
    assert _products(state, "won") == {"core": "seat_limit"}
    # Won at that event, so the same event does not raise seat_limit again (the cool-down runs).
    assert [o.episode for o in state.opened if o.trigger.kind == "seat_limit"] == [1]


def test_more_arr_for_the_same_products_wins_the_owned_products_opportunity() -> None:
    story = upsell_story("a")
    story.contract(25, seats=10, products=("core",), arr="70000", event_type="contract.amended")
    assert _products(_decide(story), "won") == {"core": "seat_limit"}


@pytest.mark.parametrize(("event_type", "seats", "products", "arr"), [
    ("contract.amended", 10, ("core",), "60000"),  # the same terms again
    ("contract.amended", 8, ("core",), "48000"),  # a contraction
    ("contract.renewed", 10, ("core", "governance"), "60000"),  # adds a product nobody proposed
])
def test_contract_events_that_deliver_nothing_proposed_win_nothing(event_type: str, seats: int,
                                                                   products: tuple[str, ...], arr: str) -> None:
    story = upsell_story("a")
    story.contract(25, seats=seats, products=products, arr=arr, event_type=event_type)
    assert [c for c in _decide(story).closed if c.stage == "won"] == []


def test_a_cancellation_wins_nothing_even_when_it_repeats_the_products() -> None:
    story = upsell_story("a")
    story.add(25, "contract.cancelled", {"contract_id": "a-k1", "end_date": at(200).date().isoformat(),
                                         "seats": 20, "products": ["core", "planning"]})
    assert _decide(story).closed == ()


def test_open_opportunities_expire_after_the_ttl_in_event_time_whenever_the_next_event_comes() -> None:
    story = upsell_story("a")
    opened = _decide(story).opened
    first = min(o.as_of for o in opened)
    story.add((first + timedelta(days=90) - at(0)).total_seconds() / 86_400 - 0.01, "usage.recorded",
              {"user_id": "u0", "feature": "reports"})
    assert _decide(story).closed == (), "one moment short of the TTL: nothing expires"
    late = upsell_story("a")
    late.add(400, "usage.recorded", {"user_id": "u0", "feature": "reports"})
    state = _decide(late)
    assert {c.opportunity_id for c in state.closed} == {o.opportunity_id for o in opened}
    for closed in state.closed:
        opened_at = next(o.as_of for o in opened if o.opportunity_id == closed.opportunity_id)
        assert (closed.stage, closed.closed_by) == ("lost", "expiry")
        assert closed.closed_at == opened_at + timedelta(days=90), "when it expired, not when it was noticed"
        assert closed.reason == f"expired: no progress for 90 days since {opened_at.date().isoformat()}"


def test_the_ttl_is_configurable() -> None:
    story = upsell_story("a")
    story.add(40, "usage.recorded", {"user_id": "u0", "feature": "reports"})
    assert _decide(story).closed == ()
    short = _decide(story, thresholds=Thresholds(opportunity_ttl_days=10))
    assert {c.closed_by for c in short.closed} == {"expiry"} and len(short.closed) == len(short.opened)


def test_batch_boundaries_change_nothing() -> None:
    story = upsell_story("a")
    story.contract(25, seats=15, products=("core", "planning"), arr="95000", event_type="contract.amended")
    story.add(200, "usage.recorded", {"user_id": "u0", "feature": "reports"})
    whole, chunked = _decide(story), _decide(story, chunk=7)
    assert whole.closed == chunked.closed and whole.opened == chunked.opened
    assert {c.closed_by for c in whole.closed} == {"contract", "expiry"}


def _episode(stage: str, *, progressed_day: float | None) -> dict[tuple[str, str], LatestEpisode]:
    progressed = None if progressed_day is None else at(progressed_day)
    return {("whitespace", "analytics"): LatestEpisode("whitespace", "analytics", 1, stage, Decimal(100), None,
                                                       progressed)}


def test_expiry_counts_from_the_latest_progress_and_spares_closed_or_unknown_ones() -> None:
    assert expire(_episode("qualified", progressed_day=50), account_id="a", as_of=at(139), ttl_days=90)[1] == []
    [lost] = expire(_episode("qualified", progressed_day=50), account_id="a", as_of=at(140), ttl_days=90)[1]
    assert lost.closed_at == at(140)
    assert expire(_episode("won", progressed_day=0), account_id="a", as_of=at(400), ttl_days=90)[1] == []
    assert expire(_episode("open", progressed_day=None), account_id="a", as_of=at(400), ttl_days=90)[1] == []


def test_win_needs_a_signing_renewal_or_amendment() -> None:
    story = Story("a")
    story.contract(0, products=("core",))
    story.contract(5, products=("core", "analytics"), event_type="contract.amended")
    before, after = signal_events(story.events[:1]), signal_events(story.events)
    held_before = holdings(apply_events(ExpansionSignals(), before), at(5))
    held_after = holdings(apply_events(ExpansionSignals(), after), at(5))
    amended = after[1]
    assert win(_episode("open", progressed_day=1), account_id="a", event=amended, before=held_before,
               after=held_after)[1] != []
    usage = SignalEvent("u", "usage.recorded", at(5), UsageRecorded(feature="x"))
    assert win(_episode("open", progressed_day=1), account_id="a", event=usage, before=held_before,
               after=held_after)[1] == []
    assert win(_episode("dismissed", progressed_day=1), account_id="a", event=amended, before=held_before,
               after=held_after)[1] == []
