"""What an account's contracts say on a given day: seats, ARR, renewal date, tenure, segment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from services.health.domain.signals import AccountSignals
from shared.contracts import Contract, ContractHistory, Term


@dataclass(frozen=True, slots=True)
class ContractSummary:
    seats: int | None = None
    """Licensed seats summed over the contracts in force; None when none is in force."""
    arr: Decimal | None = None
    """Summed ARR when all contracts in force share one currency (never summed across currencies)."""
    currency: str | None = None
    arr_by_currency: Mapping[str, Decimal] = field(default_factory=dict)
    renewal_date: date | None = None
    """The nearest upcoming renewal among contracts in force and not cancelled. Per contract it is
    the end of its latest known term (a renewal signed early moves it); across contracts the
    nearest one, because that is the revenue at risk first."""
    first_start: date | None = None
    products: tuple[str, ...] = ()
    segment: str | None = None
    """The account's segment: the one `account.updated` set, else the latest contract term's."""
    evidence_event_ids: tuple[str, ...] = ()

    def days_to_renewal(self, on: date) -> int | None:
        return None if self.renewal_date is None else (self.renewal_date - on).days


_LAST: list[tuple[ContractHistory, str | None, list[tuple[Contract, Term]], ContractSummary]] = []
"""The last summary made: consecutive points of one account (its midnights above all) mostly read the
same contracts on days with the same terms in force, and then the summary is the same."""


def contract_summary(signals: AccountSignals, on: date) -> ContractSummary:
    history = signals.contracts
    in_force = [(contract, term) for contract in history.contracts.values()
                if (term := contract.term_on(on)) is not None]
    # The CRM's word (account.updated) over the billing system's, when it has one.
    segment = signals.profile_value("segment") or history.segment
    if _LAST:
        last_history, last_segment, last_in_force, summary = _LAST[0]
        # A summary is a function of the history, the segment and the (contract, term) pairs in force.
        if last_history is history and last_segment == segment and len(last_in_force) == len(in_force) \
                and all(a is c and b is t for (a, b), (c, t) in zip(last_in_force, in_force, strict=True)):
            return summary
    summary = _summary(history, segment, in_force)
    _LAST[:] = [(history, segment, in_force, summary)]
    return summary


def _summary(history: ContractHistory, segment: str | None, in_force: list[tuple[Contract, Term]]) -> ContractSummary:
    arr_by_currency: dict[str, Decimal] = {}
    for _, term in in_force:
        arr_by_currency[term.currency] = arr_by_currency.get(term.currency, Decimal(0)) + term.arr
    renewals = [renewal for contract, _ in in_force if (renewal := contract.renewal_date) is not None]
    single_currency = next(iter(arr_by_currency)) if len(arr_by_currency) == 1 else None
    return ContractSummary(
        seats=sum(t.seats for _, t in in_force) if in_force else None,
        arr=arr_by_currency[single_currency] if single_currency else None,
        currency=single_currency,
        arr_by_currency=arr_by_currency,
        renewal_date=min(renewals) if renewals else None,
        first_start=history.first_start,
        products=tuple(sorted({p for _, t in in_force for p in t.products})),
        segment=segment,
        evidence_event_ids=tuple(sorted(t.event_id for _, t in in_force)),
    )
