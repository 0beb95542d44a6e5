"""A renewal per contract term, its stage and the rules for moving it.

The renewal id is deterministic, uuid5 of (contract, the term's end date), so a replay finds the
same row (and the stage, owner and notes people set on it). The renewal window opens
`window_days` before the end date; before it the renewal is `upcoming`. That is computed when read,
from the day asked about; the risk and the alerts, which act on the calendar, are judged by the
scheduled pass as the days go by (see `judging`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from services.renewals.domain.risk import Risk
from shared.contracts import Contract, Term
from shared.events import deterministic_event_id

Stage = Literal["upcoming", "open", "in_progress", "committed", "renewed", "churned"]
Outcome = Literal["renewed", "churned"]
STORED_STAGES = ("open", "in_progress", "committed", "renewed", "churned")
CLOSED_STAGES = frozenset({"renewed", "churned"})
DEFAULT_WINDOW_DAYS = 120

# Moves people may make. renewed and churned are final: they are set by contract events (a renewal
# or a cancellation), and people may record them ahead of the event too.
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "committed", "churned"}),
    "in_progress": frozenset({"open", "committed", "churned"}),
    "committed": frozenset({"in_progress", "renewed", "churned"}),
    "renewed": frozenset(),
    "churned": frozenset(),
}


def can_move(stored_stage: str, to: str) -> bool:
    return to == stored_stage or to in TRANSITIONS.get(stored_stage, frozenset())


def renewal_id(contract_id: str, end_date: date) -> str:
    return deterministic_event_id("renewal", contract_id, end_date.isoformat())


@dataclass(frozen=True)
class Renewal:
    """The renewal of one contract term: the term as folded (shared.contracts), what became of it and
    its risk."""

    renewal_id: str
    account_id: str
    term: Term
    outcome: Outcome | None
    risk: Risk

    @property
    def contract_id(self) -> str:
        return self.term.contract_id

    @property
    def renewal_date(self) -> date:
        return self.term.end_date


RiskOf = Callable[[str, Term, Outcome | None], Risk]
"""The risk of a renewal (its id, its term, its outcome so far)."""


def renewals_of(account_id: str, contract: Contract, risk_of: RiskOf) -> list[Renewal]:
    """One renewal per term: renewed when a next term follows, churned when the contract was cancelled
    in its last term, else pending."""
    renewals = []
    for index, term in enumerate(contract.terms):
        last = index == len(contract.terms) - 1
        outcome: Outcome | None = None
        if not last:
            outcome = "renewed"
        elif contract.status == "cancelled":
            outcome = "churned"
        rid = renewal_id(contract.contract_id, term.first_end_date)
        renewals.append(Renewal(renewal_id=rid, account_id=account_id, term=term, outcome=outcome,
                                risk=risk_of(rid, term, outcome)))
    return renewals


def window_opens_on(renewal_date: date, window_days: int) -> date:
    return renewal_date - timedelta(days=window_days)


def in_window(renewal_date: date, *, today: date, window_days: int) -> bool:
    return window_opens_on(renewal_date, window_days) <= today <= renewal_date


def shown_stage(stored_stage: str, renewal_date: date, *, today: date, window_days: int) -> Stage:
    """What a reader sees: an untouched renewal is `upcoming` until its window opens."""
    if stored_stage == "open" and today < window_opens_on(renewal_date, window_days):
        return "upcoming"
    return stored_stage  # type: ignore[return-value]  # the table's check constraint keeps it a Stage
