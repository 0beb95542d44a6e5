"""An account's contracts, folded from its contract events: the one rule health, renewals and
expansion read them by.

The rule for late, out-of-order and repeated events: every contract event is kept (a contract has a
handful over its life) and each contract is re-folded from its events in event-time order
(`occurred_at`, then `event_id`), so the folded state is a function of the set of events alone, never
of the order or the batches they arrived in. A late event (an amendment older than a renewal, a
signature after its amendment, a cancellation after the renewal that followed it) lands in its place
instead of being dropped; an event id seen twice is kept once.

Per contract (CONTRACT.md, "contract.*"): `contract.signed` opens the first term (a second signature
restates the current term); `contract.renewed` starts the next term (its data is the new term) and
re-activates a cancelled contract; `contract.amended` changes the current term from its `occurred_at`
date on (an amendment older than every term is kept and ignored until a term exists before it);
`contract.cancelled` ends the contract on its `end_date`.

Two questions are asked of the result, and they differ on purpose:

* `terms_in_force(on)`: what is billed on a day (health's seats, ARR and renewal date): per contract,
  the latest-starting term whose dates cover the day, unless the cancellation has taken effect;
* `committed(on)`: what the customer has bought (expansion's owned products and licensed seats): each
  contract's latest term whatever its dates, unless the cancellation has taken effect. A renewal
  signed early is bought when signed, and a term past its end without a renewal event still counts
  (billing data arrives late).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, get_args

from shared.events import ContractCancelled, ContractTerms, Envelope

ContractEventType = Literal["contract.signed", "contract.renewed", "contract.amended", "contract.cancelled"]
_EVENT_TYPES: dict[str, ContractEventType] = {kind: kind for kind in get_args(ContractEventType)}
CONTRACT_EVENT_TYPES: frozenset[str] = frozenset(_EVENT_TYPES)
ContractStatus = Literal["active", "cancelled"]


@dataclass(frozen=True, slots=True)
class ContractEvent:
    event_id: str
    event_type: ContractEventType
    occurred_at: datetime
    data: ContractTerms | ContractCancelled

    def __post_init__(self) -> None:
        expected = ContractCancelled if self.event_type == "contract.cancelled" else ContractTerms
        if not isinstance(self.data, expected):
            raise TypeError(f"{self.event_type} carries {expected.__name__}, got {type(self.data).__name__}")

    @property
    def contract_id(self) -> str:
        return self.data.contract_id

    @property
    def order(self) -> tuple[datetime, str]:
        return self.occurred_at, self.event_id


@dataclass(frozen=True, slots=True)
class ArrChange:
    effective: date
    arr: Decimal


@dataclass(frozen=True, slots=True)
class Term:
    contract_id: str
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
    event_id: str
    """The latest event that shaped the term (opened, restated or amended it): its evidence."""


@dataclass(frozen=True, slots=True)
class Contract:
    contract_id: str
    terms: tuple[Term, ...]
    status: ContractStatus = "active"
    cancelled_on: date | None = None
    cancel_reason: str | None = None

    @property
    def current(self) -> Term | None:
        return self.terms[-1] if self.terms else None

    def ended_by(self, on: date) -> bool:
        """The cancellation has taken effect on `on` (service stops on its end date)."""
        return self.cancelled_on is not None and self.cancelled_on <= on

    @property
    def renewal_date(self) -> date | None:
        """The end of the latest known term (a renewal signed early moves it); None once cancelled."""
        if self.status == "cancelled" or not self.terms:
            return None
        return max(t.end_date for t in self.terms)

    def term_on(self, on: date) -> Term | None:
        if self.ended_by(on):
            return None
        covering = [t for t in self.terms if t.start_date <= on <= t.end_date]
        return max(covering, key=lambda t: t.start_date) if covering else None


def fold_contract(contract_id: str, events: Iterable[ContractEvent]) -> Contract:
    contract = Contract(contract_id, ())
    for event in sorted(events, key=lambda e: e.order):
        contract = _apply(contract, event)
    return contract


def _apply(contract: Contract, event: ContractEvent) -> Contract:
    data = event.data
    if isinstance(data, ContractCancelled):
        return replace(contract, status="cancelled", cancelled_on=data.end_date, cancel_reason=data.reason)
    current = contract.current
    if event.event_type == "contract.amended" or (event.event_type == "contract.signed" and current is not None):
        if current is None:
            return contract
        return replace(contract, terms=(*contract.terms[:-1], _amended(current, data, event)))
    return replace(contract, terms=(*contract.terms, _new_term(data, event.event_id)), status="active",
                   cancelled_on=None, cancel_reason=None)


def _new_term(data: ContractTerms, event_id: str) -> Term:
    return Term(contract_id=data.contract_id, start_date=data.start_date, end_date=data.end_date,
                first_end_date=data.end_date, arr=data.arr, currency=data.currency, seats=data.seats,
                products=tuple(data.products), auto_renew=data.auto_renew, segment=data.segment,
                arr_changes=(ArrChange(data.start_date, data.arr),), event_id=event_id)


def _amended(term: Term, data: ContractTerms, event: ContractEvent) -> Term:
    effective = max(event.occurred_at.date(), term.start_date)
    changes = (*(c for c in term.arr_changes if c.effective < effective), ArrChange(effective, data.arr))
    return replace(term, end_date=data.end_date, arr=data.arr, currency=data.currency, seats=data.seats,
                   products=tuple(data.products), auto_renew=data.auto_renew,
                   segment=data.segment or term.segment, arr_changes=changes, event_id=event.event_id)


@dataclass(frozen=True)
class ContractHistory:
    """An account's contract events per contract (in event-time order) and the contracts they fold to."""

    events: Mapping[str, tuple[ContractEvent, ...]] = field(default_factory=dict)
    contracts: Mapping[str, Contract] = field(init=False, repr=False, compare=False)
    """Derived from `events` once, when the history is built: readers ask for it on every score."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "contracts", {contract_id: fold_contract(contract_id, events)
                                               for contract_id, events in sorted(self.events.items())})

    def add(self, events: Iterable[ContractEvent]) -> ContractHistory:
        """The history with `events` merged in; a repeated event id is kept once."""
        merged = {contract_id: list(kept) for contract_id, kept in self.events.items()}
        seen = {e.event_id for kept in self.events.values() for e in kept}
        added = False
        for event in events:
            if event.event_id not in seen:
                seen.add(event.event_id)
                merged.setdefault(event.contract_id, []).append(event)
                added = True
        if not added:
            return self
        return ContractHistory({contract_id: tuple(sorted(kept, key=lambda e: e.order))
                                for contract_id, kept in merged.items()})

    def terms_in_force(self, on: date) -> list[Term]:
        """What is billed on `on`: per contract, its term covering the day (see the module's doc)."""
        return [term for contract in self.contracts.values() if (term := contract.term_on(on)) is not None]

    def committed(self, on: date) -> list[Term]:
        """What has been bought and not cancelled by `on`: each contract's latest term."""
        return [c.current for c in self.contracts.values() if c.current is not None and not c.ended_by(on)]

    @property
    def first_start(self) -> date | None:
        starts = [t.start_date for c in self.contracts.values() for t in c.terms]
        return min(starts) if starts else None

    @property
    def segment(self) -> str | None:
        """The segment the latest contract event (any contract, any type) named."""
        named = [e for events in self.events.values() for e in events if e.data.segment]
        return max(named, key=lambda e: e.order).data.segment if named else None


EMPTY_HISTORY = ContractHistory()


@dataclass(frozen=True, slots=True)
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


# --- JSON: [event_id, type, occurred_at, data], the data as the contract's JSON -----------------


def history_to_json(history: ContractHistory) -> dict[str, list[list[Any]]]:
    return {contract_id: [[e.event_id, e.event_type, e.occurred_at.isoformat(), e.data.model_dump(mode="json")]
                          for e in events]
            for contract_id, events in history.events.items()}


def history_from_json(stored: Mapping[str, Iterable[list[Any]]]) -> ContractHistory:
    return ContractHistory({contract_id: tuple(_event_from_json(e) for e in events)
                            for contract_id, events in stored.items()})


def _event_from_json(stored: list[Any]) -> ContractEvent:
    event_id, event_type, occurred_at, data = stored
    return contract_event(event_id=event_id, event_type=event_type,
                          occurred_at=datetime.fromisoformat(occurred_at), data=data)


def contract_event(*, event_id: str, event_type: str, occurred_at: datetime,
                   data: ContractTerms | ContractCancelled | Mapping[str, Any]) -> ContractEvent:
    """A contract event from its parts; `data` as the contract's JSON (stored state) is validated."""
    kind = _EVENT_TYPES.get(event_type)
    if kind is None:
        raise ValueError(f"not a contract event: {event_type}")
    model = ContractCancelled if kind == "contract.cancelled" else ContractTerms
    payload = data if isinstance(data, model) else model.model_validate(data)
    return ContractEvent(event_id, kind, occurred_at, payload)


def contract_event_of(envelope: Envelope) -> ContractEvent:
    """The contract event a validated envelope carries (its payload as pydantic made it)."""
    data = envelope.data
    if not isinstance(data, ContractTerms | ContractCancelled):
        raise ValueError(f"{envelope.type} {envelope.event_id} is not a contract event")
    return contract_event(event_id=envelope.event_id, event_type=envelope.type, occurred_at=envelope.occurred_at,
                          data=data)
