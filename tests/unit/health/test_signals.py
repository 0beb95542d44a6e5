"""AccountSignals: the fold from events, order independence, horizon, contracts, JSON."""

from __future__ import annotations

import json
import random
from datetime import datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.health.domain import (
    EMPTY_SIGNALS,
    HORIZON_DAYS,
    SignalEvent,
    UnknownEventType,
    apply_event,
    apply_events,
    contract_summary,
    signals_from_json,
    signals_to_json,
)
from services.health.domain.measures import active_users, unreplaced_departures
from services.health.domain.signals import Stamp
from shared.days import day_number
from shared.events import ContractTerms, UsageRecorded
from tests.unit.health.factories import History, at, healthy_account, on

pytestmark = pytest.mark.unit


def test_out_of_order_events_give_the_same_signals_as_in_order() -> None:
    history = healthy_account(days=200)  # spans more than the horizon, so late events get dropped
    in_order = history.signals()
    shuffled = list(history.events)
    random.Random(7).shuffle(shuffled)
    assert apply_events(EMPTY_SIGNALS, shuffled) == in_order


def test_one_event_at_a_time_in_reverse_equals_one_batch() -> None:
    history = healthy_account(days=20)
    one_by_one = EMPTY_SIGNALS
    for e in reversed(history.events):
        one_by_one = apply_event(one_by_one, e)
    assert one_by_one == history.signals()


def test_activity_older_than_the_horizon_is_dropped_but_last_usage_is_kept() -> None:
    h = History()
    old = h.usage(0, "u-1")
    h.usage(HORIZON_DAYS + 10, "u-2")
    s = h.signals()
    assert set(s.user_activity) == {"u-2"}
    assert min(s.event_days) == day_number(at(HORIZON_DAYS + 10))
    assert min(s.feature_days["reports"]) == day_number(at(HORIZON_DAYS + 10))
    assert s.first_usage_day == day_number(at(0))
    assert s.onboarding == {"reports": 1.0}, "the first 30 days were kept apart before they left the horizon"
    assert old in {st.event_id for st in s.usage_evidence}


def test_distinct_active_users_per_window() -> None:
    h = History()
    for day in range(0, 60):
        h.usage(day, f"u-{day % 10}")  # ten users in each 30-day window
    h.usage(45, "u-extra")
    s = h.signals()
    today = day_number(at(59))
    assert active_users(s, today - 29, today) == 11
    assert active_users(s, today - 59, today - 30) == 10


def test_ticket_closed_before_its_open_arrives_stays_closed() -> None:
    h = History()
    h.close(3, "t-1")
    h.ticket(1, "t-1", "urgent")
    ticket = h.signals().tickets["t-1"]
    assert not ticket.is_open and ticket.severity == "urgent"


def test_reopened_ticket_is_open_again() -> None:
    h = History()
    h.ticket(1, "t-1", "high")
    h.close(3, "t-1")
    h.ticket(5, "t-1", "high")
    assert h.signals().tickets["t-1"].is_open


def test_two_way_touch_is_inbound_or_a_conversation() -> None:
    h = History()
    h.interaction(1, "email", "outbound")
    assert h.signals().last_two_way is None
    inbound = h.interaction(2, "chat", "inbound")
    assert h.signals().last_two_way == Stamp(at(2), inbound)
    meeting = h.interaction(3, "meeting", "outbound")
    assert h.signals().last_two_way == Stamp(at(3), meeting)


def test_negative_feedback_thresholds() -> None:
    h = History()
    h.survey(1, "nps", 6)  # detractor
    h.survey(2, "nps", 7)  # passive: not negative
    h.survey(3, "csat", 2)
    h.survey(4, "csat", 3)
    h.interaction(5, "call", sentiment=-0.5)
    h.interaction(6, "call", sentiment=-0.4)
    s = h.signals()
    assert [(n.source, n.value) for n in s.negative_feedback] == [("nps", 6), ("csat", 2), ("interaction", -0.5)]
    assert s.nps is not None and s.nps.score == 7  # latest by event time


def test_latest_survey_is_by_event_time_not_arrival() -> None:
    h = History()
    h.survey(10, "nps", 3)
    h.survey(5, "nps", 10)  # arrives later, happened earlier
    nps = h.signals().nps
    assert nps is not None and nps.score == 3


def test_champion_departure_and_replacement() -> None:
    h = History()
    h.contact(0, "c-1", "champion", name="Jane")
    h.contact(10, "c-1", "champion", "left")
    today = day_number(at(12))
    assert [d.contact_id for d in unreplaced_departures(h.signals(), today)] == ["c-1"]
    assert h.signals().departures[0].name == "Jane"  # the name from the earlier event is kept
    h.contact(15, "c-2", "user")
    h.contact(16, "c-2", "user", "role_changed", new_role="champion")
    assert unreplaced_departures(h.signals(), day_number(at(17))) == []
    assert len(unreplaced_departures(h.signals(), day_number(at(15)))) == 1  # not yet replaced then


def test_a_champion_changing_role_is_a_departure() -> None:
    h = History()
    h.contact(0, "c-1", "champion")
    h.contact(5, "c-1", "champion", "role_changed", new_role="user")
    assert [d.role for d in unreplaced_departures(h.signals(), day_number(at(6)))] == ["champion"]


def test_contract_summary_seats_arr_renewal_and_tenure() -> None:
    h = History()
    h.contract(0, seats=40, arr="100000", start=0, end=364, segment="mid_market")
    h.contract(30, seats=10, arr="20000", start=30, end=394, contract_id="k-2", segment=None)
    h.contract(300, seats=50, arr="130000", start=365, end=729, kind="renewed", segment=None)  # early
    summary = contract_summary(h.signals(), on(100))
    assert summary.seats == 50 and summary.arr == Decimal("120000") and summary.currency == "USD"
    assert summary.renewal_date == on(394)  # k-2 renews first; k-1 already renewed to day 729
    assert summary.first_start == on(0) and summary.segment == "mid_market"
    assert summary.days_to_renewal(on(100)) == 294
    assert contract_summary(h.signals(), on(400)).seats == 50  # k-1's new term; k-2 ended


def test_cancelled_contract_stops_at_its_end_date_and_has_no_renewal() -> None:
    h = History()
    h.contract(0, seats=40, start=0, end=364)
    h.add(100, "contract.cancelled", {"contract_id": "k-1", "end_date": on(200)})
    assert contract_summary(h.signals(), on(150)).renewal_date is None
    assert contract_summary(h.signals(), on(150)).seats == 40
    assert contract_summary(h.signals(), on(200)).seats is None


def test_an_amendment_restates_the_current_term_and_a_partial_one_never_reaches_the_fold() -> None:
    h = History()
    h.contract(0, seats=40, start=0, end=364)
    h.contract(50, seats=55, start=0, end=364, kind="amended")
    summary = contract_summary(h.signals(), on(60))
    assert summary.seats == 55 and summary.renewal_date == on(364) and summary.arr == Decimal("120000")
    with pytest.raises(ValidationError, match="end_date"):  # the contract's payload requires the whole term
        ContractTerms.model_validate({"contract_id": "k-1", "seats": 55, "arr": "1", "start_date": on(0)})


def test_unknown_event_type_and_naive_time_are_errors() -> None:
    with pytest.raises(UnknownEventType):
        apply_event(EMPTY_SIGNALS, SignalEvent("x", "usage.exploded", at(0), UsageRecorded(feature="f")))
    with pytest.raises(ValueError, match="UTC offset"):
        apply_event(EMPTY_SIGNALS, SignalEvent("x", "usage.recorded", datetime(2026, 1, 1), UsageRecorded(feature="f")))


def test_signals_json_round_trip() -> None:
    h = healthy_account(days=30)
    h.ticket(31, "t-open", "urgent")
    h.contact(32, "c-0", "champion", "left")
    h.add(33, "contract.cancelled", {"contract_id": "k-9", "end_date": on(90)})
    h.survey(34, "csat", 2)
    s = h.signals()
    raw = json.loads(json.dumps(signals_to_json(s)))  # JSON-safe: survives a real encode/decode
    assert signals_from_json(raw) == s
    assert signals_to_json(EMPTY_SIGNALS) == json.loads(json.dumps(signals_to_json(EMPTY_SIGNALS)))
    assert signals_from_json(signals_to_json(EMPTY_SIGNALS)) == EMPTY_SIGNALS


def test_account_updated_sets_keeps_and_clears_profile_fields_by_event_time() -> None:
    from services.health.domain import contract_summary

    h = History()
    h.contract(0, segment="smb")
    h.add(1, "account.updated", {"name": "Acme", "owner": "ann@example.com", "segment": "enterprise"})
    h.add(3, "account.updated", {"owner": None, "tier": "gold"})  # owner cleared, name kept
    h.add(0.5, "account.updated", {"owner": "late@example.com", "name": "Old name"})  # arrives last, older: loses
    s = h.signals()
    assert {f: s.profile_value(f) for f in ("name", "owner", "segment", "crm_id", "tier")} == {
        "name": "Acme", "owner": None, "segment": "enterprise", "crm_id": None, "tier": "gold"}
    assert contract_summary(s, on(5)).segment == "enterprise", "the CRM's segment wins over the contract's"
    assert signals_from_json(signals_to_json(s)) == s


def test_contracts_stored_before_events_were_kept_load_as_the_events_that_set_them() -> None:
    h = History()
    h.contract(0, seats=40, start=0, end=364)
    h.contract(300, seats=50, arr="130000", start=365, end=729, kind="renewed")
    h.add(500, "contract.cancelled", {"contract_id": "k-1", "end_date": on(600)})
    signals = h.signals()
    stored = signals_to_json(signals)
    del stored["contract_events"]
    stamp = [at(0).isoformat(), h.events[0].event_id]
    stored["contracts"] = {"k-1": {
        "terms": [
            {"start_date": on(0).isoformat(), "end_date": on(364).isoformat(), "arr": "120000", "currency": "USD",
             "seats": 40, "products": ["core"], "auto_renew": False, "segment": "enterprise", "stamp": stamp},
            {"start_date": on(365).isoformat(), "end_date": on(729).isoformat(), "arr": "130000", "currency": "USD",
             "seats": 50, "products": ["core"], "auto_renew": False, "segment": "enterprise",
             "stamp": [at(300).isoformat(), h.events[1].event_id]}],
        "first_start": on(0).isoformat(),
        "cancellation": [on(600).isoformat(), [at(500).isoformat(), h.events[2].event_id]]}}
    loaded = signals_from_json(json.loads(json.dumps(stored)))
    assert loaded.contracts.contracts == signals.contracts.contracts
    for day in (100, 400, 600):
        assert contract_summary(loaded, on(day)) == contract_summary(signals, on(day))


def test_an_amendment_after_a_cancellation_does_not_revoke_it() -> None:
    """Only a renewal starts a term again (CONTRACT.md); health used to let any later term event
    supersede a cancellation."""
    h = History()
    h.contract(0, seats=40, start=0, end=364)
    h.add(100, "contract.cancelled", {"contract_id": "k-1", "end_date": on(200)})
    h.contract(120, seats=30, start=0, end=364, kind="amended")
    assert contract_summary(h.signals(), on(150)).seats == 30
    assert contract_summary(h.signals(), on(150)).renewal_date is None
    assert contract_summary(h.signals(), on(250)).seats is None
