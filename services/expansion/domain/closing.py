"""Closing opportunities without a person: won by a contract, or expired for want of progress.

Both are judged in event time, inside the fold (`decide`), at every event of the account, before
the rules run on it; the backtest's replay folds through the same `decide`, so it closes
opportunities by exactly these rules.

- **Won**: a `contract.signed`, `.renewed` or `.amended` that adds the opportunity's product to the
  account (it was not owned before the event and is after), or, for a product the account already
  held (a proposal for more seats or capacity of what it has: seat_limit, plan_limit, usage_growth),
  raises the seats of the live contracts that carry it, or their ARR when the event adds no other
  product (a cross-sell priced into the same contract is not more of this one). `closed_at` is the
  event's time.
  A cancellation never wins anything.
- **Expired**: an open opportunity whose last progress (`LatestEpisode.progressed_at`: its opening,
  or a person's stage move) is `Thresholds.opportunity_ttl_days` or more behind the account's event
  time is closed as `lost`, `closed_by` "expiry". `closed_at` is the moment it expired (progress +
  TTL), not the event that noticed it, so the cool-down and the record are the same whenever the
  account's next event comes.

When no event arrives for the account, nothing is stored until its next event (any of the five
topics, a health record included); readers that must not count a stale opportunity (the pipeline)
compare `expires_at` with the time they judge at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from services.expansion.domain.opportunities import OPEN_STAGES, LatestEpisode, opportunity_id
from services.expansion.domain.signals import ExpansionSignals
from shared.events import ContractTerms
from shared.signal_events import SignalEvent

Holdings = Mapping[str, tuple[int, Decimal]]
"""Per owned product: the seats and the ARR of the live contracts that carry it."""


@dataclass(frozen=True)
class Closed:
    """An opportunity the fold closed: the handler moves its row, if still open, to `stage`."""

    opportunity_id: str
    kind: str
    product: str
    episode: int
    stage: Literal["won", "lost"]
    closed_at: datetime
    closed_by: Literal["contract", "expiry"]
    reason: str
    evidence_event_ids: tuple[str, ...] = ()


def holdings(signals: ExpansionSignals, as_of: datetime) -> dict[str, tuple[int, Decimal]]:
    out: dict[str, tuple[int, Decimal]] = {}
    for contract in signals.live_contracts(as_of):
        for product in set(contract.products):
            seats, arr = out.get(product, (0, Decimal(0)))
            out[product] = (seats + contract.seats, arr + contract.arr)
    return out


def expires_at(progressed_at: datetime | None, ttl_days: int) -> datetime | None:
    return None if progressed_at is None else progressed_at + timedelta(days=ttl_days)


def expire(latest: Mapping[tuple[str, str], LatestEpisode], *, account_id: str, as_of: datetime, ttl_days: int
           ) -> tuple[dict[tuple[str, str], LatestEpisode], list[Closed]]:
    """The open episodes whose TTL has run out by `as_of`, closed as lost by expiry."""
    kept, closed = dict(latest), list[Closed]()
    for key, episode in latest.items():
        deadline = expires_at(episode.progressed_at, ttl_days)
        if episode.stage not in OPEN_STAGES or deadline is None or deadline > as_of:
            continue
        assert episode.progressed_at is not None
        kept[key] = replace(episode, stage="lost", closed_at=deadline)
        closed.append(Closed(
            opportunity_id(account_id, episode.kind, episode.product, episode.episode), episode.kind,
            episode.product, episode.episode, "lost", deadline, "expiry",
            f"expired: no progress for {ttl_days} days since {episode.progressed_at.date().isoformat()}"))
    return kept, closed


def win(latest: Mapping[tuple[str, str], LatestEpisode], *, account_id: str, event: SignalEvent,
        before: Holdings, after: Holdings) -> tuple[dict[tuple[str, str], LatestEpisode], list[Closed]]:
    """The open episodes `event` wins (see the module docstring), given the holdings around it."""
    kept, closed = dict(latest), list[Closed]()
    terms = event.data
    if not isinstance(terms, ContractTerms):  # won only by a contract signed, renewed or amended
        return kept, closed
    for key, episode in latest.items():
        if episode.stage not in OPEN_STAGES:
            continue
        how = _won_by(episode.product, before, after)
        if how is None:
            continue
        kept[key] = replace(episode, stage="won", closed_at=event.occurred_at)
        contract = terms.contract_id
        closed.append(Closed(
            opportunity_id(account_id, episode.kind, episode.product, episode.episode), episode.kind,
            episode.product, episode.episode, "won", event.occurred_at, "contract",
            f"won: {event.event_type} of contract {contract} on {event.occurred_at.date().isoformat()} {how}",
            (event.event_id,)))
    return kept, closed


def _won_by(product: str, before: Holdings, after: Holdings) -> str | None:
    """How the contract change delivered `product`, in words; None when it did not."""
    now = after.get(product)
    if now is None:
        return None
    was = before.get(product)
    if was is None:
        return f"added {product}"
    if now[0] > was[0]:
        return f"raised {product} from {was[0]} to {now[0]} seats"
    if now[1] > was[1] and after.keys() <= before.keys():
        return f"raised the ARR carrying {product} from {was[1]:f} to {now[1]:f}"
    return None
