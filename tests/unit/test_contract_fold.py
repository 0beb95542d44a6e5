"""The one contract fold (shared.contracts) that health, renewals and expansion read: the rule for
late, out-of-order and repeated events, and the two questions asked of it."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.contracts import (
    EMPTY_HISTORY,
    ContractEvent,
    contract_event,
    fold_contract,
    history_from_json,
    history_to_json,
)

pytestmark = pytest.mark.unit


def _at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T09:00:00+00:00").astimezone(UTC)


def _terms(contract_id: str = "c1", *, arr: str = "12000", seats: int = 10, start: str = "2026-01-01",
           end: str = "2026-12-31", **extra: Any) -> dict[str, Any]:
    return {"contract_id": contract_id, "arr": arr, "seats": seats, "products": ["core"], "start_date": start,
            "end_date": end, **extra}


def _event(kind: str, data: dict[str, Any], on: str, event_id: str | None = None) -> ContractEvent:
    return contract_event(event_id=event_id or f"{kind}-{data['contract_id']}-{on}", event_type=f"contract.{kind}",
                          occurred_at=_at(on), data=data)


SIGNED = _event("signed", _terms(segment="smb"), "2025-12-20")
AMENDED = _event("amended", _terms(arr="15000", seats=12), "2026-04-01")
CANCELLED = _event("cancelled", {"contract_id": "c1", "end_date": "2026-09-30", "reason": "budget"}, "2026-06-01")
RENEWED = _event("renewed", _terms(arr="18000", start="2027-01-01", end="2027-12-31", segment="mid_market"),
                 "2026-12-15")
STORY = [SIGNED, AMENDED, CANCELLED, RENEWED]


@pytest.mark.parametrize("order", list(itertools.permutations(STORY)))
def test_any_arrival_order_and_any_batching_fold_to_the_same_history(order: tuple[ContractEvent, ...]) -> None:
    one_by_one = EMPTY_HISTORY
    for event in order:  # one event per batch: every event but the first may be late
        one_by_one = one_by_one.add([event])
    assert one_by_one == EMPTY_HISTORY.add(STORY)
    assert one_by_one.contracts == EMPTY_HISTORY.add(STORY).contracts


def test_a_late_amendment_lands_in_its_term_not_in_the_renewal_that_followed() -> None:
    history = EMPTY_HISTORY.add([SIGNED, RENEWED]).add([AMENDED])
    first, second = history.contracts["c1"].terms
    assert (first.arr, first.seats, first.event_id) == (Decimal(15000), 12, AMENDED.event_id)
    assert (second.arr, second.seats) == (Decimal(18000), 10)


def test_a_repeated_event_id_counts_once() -> None:
    history = EMPTY_HISTORY.add([SIGNED, AMENDED])
    assert history.add([AMENDED, SIGNED]) is history
    assert len(history.events["c1"]) == 2


def test_a_cancellation_then_a_renewal_reactivates_and_a_renewal_then_an_older_cancellation_does_not_end_it() -> None:
    contract = EMPTY_HISTORY.add([RENEWED, CANCELLED, SIGNED]).contracts["c1"]  # the cancellation arrives late
    assert contract.status == "active" and contract.cancelled_on is None
    assert contract.term_on(date(2027, 3, 1)) == contract.terms[1]


def test_a_cancellation_ends_service_on_its_end_date_and_the_renewal_date_goes() -> None:
    contract = fold_contract("c1", [SIGNED, CANCELLED])
    assert contract.status == "cancelled" and contract.cancel_reason == "budget"
    assert contract.term_on(date(2026, 9, 29)) is not None and contract.term_on(date(2026, 9, 30)) is None
    assert contract.renewal_date is None


def test_an_amendment_older_than_every_term_waits_and_a_second_signature_restates_the_term() -> None:
    early = _event("amended", _terms(arr="9000"), "2025-11-01")
    assert fold_contract("c1", [early]).terms == ()
    again = _event("signed", _terms(arr="13000", seats=11), "2026-02-01")
    contract = fold_contract("c1", [early, SIGNED, again])
    assert len(contract.terms) == 1 and (contract.terms[0].arr, contract.terms[0].seats) == (Decimal(13000), 11)


def test_in_force_follows_the_term_dates_and_committed_the_latest_term() -> None:
    other = _event("signed", _terms("c2", arr="500", seats=3, start="2026-03-01", end="2027-02-28"), "2026-02-20")
    history = EMPTY_HISTORY.add([SIGNED, RENEWED, other])
    assert {t.contract_id: t.arr for t in history.terms_in_force(date(2026, 2, 1))} == {"c1": Decimal(12000)}
    # A renewal signed early is bought when signed; it is billed from its start date.
    assert {t.contract_id: t.arr for t in history.committed(date(2026, 12, 20))} == {
        "c1": Decimal(18000), "c2": Decimal(500)}
    assert {t.contract_id: t.arr for t in history.terms_in_force(date(2026, 12, 20))} == {
        "c1": Decimal(12000), "c2": Decimal(500)}
    # A term past its end without a renewal event is not billed, but still bought (billing data is late).
    assert history.terms_in_force(date(2027, 3, 5)) == [history.contracts["c1"].terms[1]]
    assert {t.contract_id for t in history.committed(date(2027, 3, 5))} == {"c1", "c2"}
    assert history.first_start == date(2026, 1, 1)
    assert history.contracts["c1"].renewal_date == date(2027, 12, 31)


def test_the_segment_is_the_latest_contract_event_that_named_one() -> None:
    assert EMPTY_HISTORY.add([SIGNED, AMENDED]).segment == "smb"
    assert EMPTY_HISTORY.add([RENEWED, SIGNED, AMENDED]).segment == "mid_market"


def test_the_history_round_trips_through_json_and_a_shuffled_json_folds_the_same() -> None:
    history = EMPTY_HISTORY.add(STORY)
    stored = json.loads(json.dumps(history_to_json(history)))
    assert history_from_json(stored) == history
    random.Random(5).shuffle(stored["c1"])
    assert history_from_json(stored).contracts == history.contracts


def test_a_payload_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(TypeError):
        ContractEvent("x", "contract.cancelled", _at("2026-01-01"), SIGNED.data)
    with pytest.raises(ValueError, match="not a contract event"):
        contract_event(event_id="x", event_type="usage.recorded", occurred_at=_at("2026-01-01"), data={})
