"""Outcome labelling from contract events: cancelled, not renewed, renewed, contraction, expansion,
overlapping contracts, and what the horizon leaves unknown."""

from __future__ import annotations

from datetime import date

import pytest

from shared.backtest.outcomes import GRACE_DAYS, label_outcomes
from tests.unit.backtest.factories import at, cancel, term

pytestmark = pytest.mark.unit

HORIZON = date(2026, 12, 31)


def test_a_cancelled_contract_is_churn_at_its_end_date_known_since_the_notice() -> None:
    o = label_outcomes("acct-1", [term("contract.signed", at("2026-01-01"), start="2026-01-01", end="2027-01-01"),
                                  cancel(at("2026-03-10"), end="2026-04-30")], horizon=HORIZON)
    assert o.churn_dates == (date(2026, 4, 30),)
    assert o.active_at(at("2026-03-01"))
    assert not o.active_at(at("2026-03-20")), "notice given: no longer a prediction"
    assert not o.active_at(at("2026-05-02"))


def test_a_term_that_runs_out_is_churn_once_the_grace_has_passed() -> None:
    events = [term("contract.signed", at("2026-01-01"), start="2026-01-01", end="2026-06-30")]
    assert label_outcomes("acct-1", events, horizon=HORIZON).churn_dates == (date(2026, 6, 30),)
    near = label_outcomes("acct-1", events, horizon=date(2026, 7, 2))
    assert near.churn_dates == ()
    assert near.unconfirmed_between(date(2026, 6, 1), date(2026, 7, 1))
    still = label_outcomes("acct-1", events, horizon=date(2026, 6, 1))
    assert still.coverage[0].stop is None and still.active_at(at("2026-05-31"))


def test_renewals_continue_service_even_when_booked_a_few_days_late() -> None:
    o = label_outcomes("acct-1", [
        term("contract.signed", at("2026-01-01"), start="2026-01-01", end="2026-06-30"),
        term("contract.renewed", at(f"2026-07-0{GRACE_DAYS - 2}"), start=f"2026-07-0{GRACE_DAYS - 2}",
             end="2027-06-30"),
    ], horizon=HORIZON)
    assert o.churn_dates == ()
    assert len(o.coverage) == 1 and o.coverage[0].stop is None
    assert o.term_ends == (date(2026, 6, 30), date(2027, 6, 30))


def test_lower_arr_or_seats_at_renewal_is_contraction_and_higher_is_expansion() -> None:
    o = label_outcomes("acct-1", [
        term("contract.signed", at("2025-01-01"), start="2025-01-01", end="2026-01-01", arr="1200", seats=10),
        term("contract.renewed", at("2025-12-20"), start="2026-01-01", end="2027-01-01", arr="1200", seats=8),
        term("contract.amended", at("2026-05-05"), start="2026-01-01", end="2027-01-01", arr="1500", seats=8),
    ], horizon=HORIZON)
    assert [(c.kind, c.on) for c in o.changes] == [("contraction", date(2026, 1, 1)), ("expansion", date(2026, 5, 5))]
    assert o.change_between("contraction", date(2025, 12, 1), date(2026, 1, 31)) is not None
    assert o.change_between("contraction", date(2026, 1, 1), date(2026, 3, 31)) is None


def test_a_cancelled_contract_is_not_churn_while_another_continues() -> None:
    o = label_outcomes("acct-1", [
        term("contract.signed", at("2026-01-01"), start="2026-01-01", end="2027-01-01", contract="a"),
        term("contract.signed", at("2026-02-01"), start="2026-02-01", end="2026-10-31", contract="b"),
        cancel(at("2026-03-01"), end="2026-04-01", contract="a"),
    ], horizon=HORIZON)
    assert o.churn_dates == (date(2026, 10, 31),), "the account churns when its last contract ends"
    assert o.active_at(at("2026-06-01")), "a's notice is not the account's while b runs on"


def test_a_renewal_recorded_after_a_cancellation_supersedes_it() -> None:
    o = label_outcomes("acct-1", [
        term("contract.signed", at("2026-01-01"), start="2026-01-01", end="2026-06-30"),
        cancel(at("2026-05-01"), end="2026-06-30"),
        term("contract.renewed", at("2026-06-10"), start="2026-06-30", end="2027-06-30"),
    ], horizon=HORIZON)
    assert o.churn_dates == ()


def test_segment_is_the_latest_recorded_and_non_contract_events_are_ignored() -> None:
    o = label_outcomes("acct-1", [
        term("contract.signed", at("2026-01-01"), start="2026-01-01", end="2027-01-01", segment="smb"),
        term("contract.amended", at("2026-03-01"), start="2026-01-01", end="2027-01-01", segment="mid_market"),
    ], horizon=HORIZON)
    assert o.segment == "mid_market"
    assert label_outcomes("acct-1", [], horizon=HORIZON).coverage == ()
