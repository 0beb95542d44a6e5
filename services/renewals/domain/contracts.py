"""Contracts folded from contract events, order-insensitively.

An account's state keeps every contract event it has seen (a contract has a handful over its life)
and the contract is re-folded from them in event-time order each time, so an event that arrives late
(an amendment before the signature it amends, a renewal before the cancellation it follows) lands in
its place instead of being dropped or dead-lettered.

Per contract: `contract.signed` opens the first term; `contract.renewed` starts the next term (its
data is the new term); `contract.amended` changes the current term from its `occurred_at` date on
(an amendment before any term is kept and ignored until a term exists before it); `contract.cancelled`
ends the contract on its `end_date` (a later renewal re-activates it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from shared.rejection import EventRejected

ContractStatus = Literal["active", "cancelled"]


@dataclass(frozen=True)
class ContractEvent:
    event_id: str
    event_type: str
    occurred_at: datetime
    data: Mapping[str, Any]
    """The event's data in JSON form (dates and money as strings)."""

    @property
    def order(self) -> tuple[datetime, str]:
        return self.occurred_at, self.event_id


@dataclass(frozen=True)
class ArrChange:
    effective: date
    arr: Decimal


@dataclass(frozen=True)
class Term:
    start_date: date
    end_date: date
    first_end_date: date
    """The end date the term was opened with: the renewal's identity, whatever amendments do later."""
    arr: Decimal
    currency: str
    seats: int
    products: tuple[str, ...]
    auto_renew: bool
    segment: str | None
    arr_changes: tuple[ArrChange, ...]


@dataclass(frozen=True)
class Contract:
    contract_id: str
    terms: tuple[Term, ...]
    status: ContractStatus = "active"
    cancelled_on: date | None = None
    cancel_reason: str | None = None

    @property
    def current(self) -> Term | None:
        return self.terms[-1] if self.terms else None


def add_events(history: Mapping[str, tuple[ContractEvent, ...]], events: Iterable[ContractEvent]
               ) -> dict[str, tuple[ContractEvent, ...]]:
    """Each contract's events, new ones merged in event-time order; a repeated event id is kept once."""
    merged = {contract_id: list(kept) for contract_id, kept in history.items()}
    for event in events:
        kept = merged.setdefault(str(event.data["contract_id"]), [])
        if all(e.event_id != event.event_id for e in kept):
            kept.append(event)
    return {contract_id: tuple(sorted(kept, key=lambda e: e.order)) for contract_id, kept in merged.items()}


def fold_contract(contract_id: str, events: Iterable[ContractEvent]) -> Contract:
    contract = Contract(contract_id, ())
    for event in sorted(events, key=lambda e: e.order):
        contract = _apply(contract, event)
    return contract


def _apply(contract: Contract, event: ContractEvent) -> Contract:
    kind = event.event_type
    if kind == "contract.cancelled":
        return replace(contract, status="cancelled", cancelled_on=date.fromisoformat(event.data["end_date"]),
                       cancel_reason=event.data.get("reason"))
    if kind == "contract.amended":
        current = contract.current
        if current is None:
            return contract
        return replace(contract, terms=(*contract.terms[:-1], _amended(current, event)))
    if kind == "contract.signed" and contract.terms:
        # A second signature restates the current term.
        return replace(contract, terms=(*contract.terms[:-1], _amended(contract.terms[-1], event)))
    if kind in ("contract.signed", "contract.renewed"):
        return replace(contract, terms=(*contract.terms, _new_term(event.data)), status="active",
                       cancelled_on=None, cancel_reason=None)
    raise EventRejected(f"not a contract event: {kind}")


def _new_term(data: Mapping[str, Any]) -> Term:
    start, end, arr = date.fromisoformat(data["start_date"]), date.fromisoformat(data["end_date"]), _money(data)
    return Term(start_date=start, end_date=end, first_end_date=end, arr=arr,
                currency=str(data.get("currency") or "USD"), seats=int(data["seats"]),
                products=tuple(data.get("products") or ()),
                auto_renew=bool(data.get("auto_renew")), segment=data.get("segment"),
                arr_changes=(ArrChange(start, arr),))


def _amended(term: Term, event: ContractEvent) -> Term:
    data = event.data
    arr = _money(data)
    effective = max(event.occurred_at.date(), term.start_date)
    changes = (*(c for c in term.arr_changes if c.effective < effective), ArrChange(effective, arr))
    return replace(term, end_date=date.fromisoformat(data["end_date"]), arr=arr,
                   currency=str(data.get("currency") or term.currency), seats=int(data["seats"]),
                   products=tuple(data.get("products") or ()), auto_renew=bool(data.get("auto_renew")),
                   segment=data.get("segment") or term.segment, arr_changes=changes)


def _money(data: Mapping[str, Any]) -> Decimal:
    return Decimal(str(data["arr"]))


@dataclass(frozen=True)
class ArrSpan:
    """ARR of one contract in one currency over [valid_from, valid_to)."""

    contract_id: str
    currency: str
    arr: Decimal
    valid_from: date
    valid_to: date


def arr_spans(contract: Contract) -> list[ArrSpan]:
    """When the contract earned what. A term runs to the next term's start, else through its end
    date; a cancellation stops the service on its end date."""
    spans: list[ArrSpan] = []
    for index, term in enumerate(contract.terms):
        term_to = contract.terms[index + 1].start_date if index + 1 < len(contract.terms) \
            else term.end_date + timedelta(days=1)
        if contract.cancelled_on is not None and index == len(contract.terms) - 1:
            term_to = min(term_to, contract.cancelled_on)
        bounds = [*(c.effective for c in term.arr_changes[1:]), term_to]
        for change, until in zip(term.arr_changes, bounds, strict=True):
            if change.effective < min(until, term_to):
                spans.append(ArrSpan(contract.contract_id, term.currency, change.arr, change.effective,
                                     min(until, term_to)))
    return spans
