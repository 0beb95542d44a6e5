"""The contract fold: signed, renewed, amended, cancelled, in any arrival order."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest

from services.renewals.domain import (
    AccountBook,
    AlertState,
    apply_contract_events,
    book_from_json,
    book_to_json,
    renewal_id,
)
from shared.contracts import ArrSpan, arr_spans, fold_contract
from tests.unit.renewals.factories import at, contract_event, health, terms

pytestmark = pytest.mark.unit

SIGNED = contract_event("signed", terms("c1"), on="2025-12-20")
AMENDED = contract_event("amended", terms("c1", arr="15000", seats=12), on="2026-04-01")
RENEWED = contract_event("renewed", terms("c1", arr="18000", start="2027-01-01", end="2027-12-31"), on="2026-12-15")
CANCELLED = contract_event("cancelled", {"contract_id": "c1", "end_date": "2027-06-30", "reason": "budget"},
                           on="2027-03-01")


def test_signed_opens_the_first_term() -> None:
    contract = fold_contract("c1", [SIGNED])
    assert contract.status == "active" and len(contract.terms) == 1
    term = contract.terms[0]
    assert (term.start_date, term.end_date, term.arr, term.currency, term.seats) == (
        date(2026, 1, 1), date(2026, 12, 31), Decimal(12000), "USD", 10)


def test_amended_changes_the_current_term_from_its_date() -> None:
    contract = fold_contract("c1", [SIGNED, AMENDED])
    term = contract.terms[0]
    assert term.arr == Decimal(15000) and term.seats == 12 and term.first_end_date == date(2026, 12, 31)
    assert arr_spans(contract) == [
        ArrSpan("c1", "USD", Decimal(12000), date(2026, 1, 1), date(2026, 4, 1)),
        ArrSpan("c1", "USD", Decimal(15000), date(2026, 4, 1), date(2027, 1, 1)),
    ]


def test_renewed_starts_the_next_term_and_cancelled_ends_it() -> None:
    contract = fold_contract("c1", [SIGNED, AMENDED, RENEWED, CANCELLED])
    assert [t.arr for t in contract.terms] == [Decimal(15000), Decimal(18000)]
    assert contract.status == "cancelled" and contract.cancelled_on == date(2027, 6, 30)
    assert arr_spans(contract)[-1] == ArrSpan("c1", "USD", Decimal(18000), date(2027, 1, 1), date(2027, 6, 30))


def test_renewals_per_term_with_outcomes_and_deterministic_ids() -> None:
    book = apply_contract_events(AccountBook(), [SIGNED, AMENDED, RENEWED, CANCELLED])
    first, second = book.renewals("acc", at=at("2027-01-10"))
    assert first.renewal_id == renewal_id("c1", date(2026, 12, 31)) and first.outcome == "renewed"
    assert second.renewal_date == date(2027, 12, 31) and second.outcome == "churned"
    assert first.term.arr == Decimal(15000)


@pytest.mark.parametrize("order", list(itertools.permutations([SIGNED, AMENDED, RENEWED, CANCELLED])))
def test_any_arrival_order_folds_the_same(order: tuple[object, ...]) -> None:
    book = AccountBook()
    for event in order:  # one event per batch: the worst case for lateness
        book = apply_contract_events(book, [event])  # type: ignore[list-item]
    expected = apply_contract_events(AccountBook(), [SIGNED, AMENDED, RENEWED, CANCELLED])
    assert book.contracts() == expected.contracts()


def test_an_amendment_before_any_term_waits_for_its_signature() -> None:
    book = apply_contract_events(AccountBook(), [contract_event("amended", terms("c1", arr="9000"), on="2026-02-01")])
    assert book.renewals("acc", at=at("2026-02-02")) == []
    book = apply_contract_events(book, [SIGNED])
    assert book.contracts()[0].terms[0].arr == Decimal(9000)


def test_a_repeated_event_counts_once_and_the_book_round_trips_through_json() -> None:
    alerts = {"r1": AlertState("high", 1, "high", 90, at("2026-09-02")), "r2": AlertState(None, 2, "low")}
    book = apply_contract_events(AccountBook(health_trail=(health("red", 20),), alerts=alerts,
                                             judged_at=at("2026-10-01")), [SIGNED, AMENDED])
    again = apply_contract_events(book, [AMENDED])
    assert again == book
    assert book_from_json(book_to_json(book)) == book


def test_a_book_stored_before_trails_and_reminders_loads() -> None:
    red = health("red", 20)
    stored = {"contracts": {}, "latest_at": red.at.isoformat(), "alerts": {"r1": ["high", 1]},
              "health": {"score": 20, "grade": "red", "previous_score": None, "at": red.at.isoformat(),
                         "event_id": red.event_id}}
    book = book_from_json(stored)
    assert book.health_trail == (red,) and book.alerts == {"r1": AlertState("high", 1)} and book.judged_at is None
