"""Per-account batch work every service's handler does the same way: group a batch by account, and
fold one account's new events into its state without letting one bad event take the batch down.
`AccountFold` is the whole skeleton (group, lock and load, fold, store) for a handler whose domain
folds events one account at a time; the service supplies the four steps."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from shared.consumer import BatchContext, Consumable, ConsumedEvent
from shared.rejection import EVENT_FAULTS

log = logging.getLogger(__name__)

State = TypeVar("State")
Loaded = TypeVar("Loaded")
Event = TypeVar("Event", bound=ConsumedEvent[Consumable])


def by_account(events: Sequence[Event]) -> dict[str, list[Event]]:
    """The batch's events per account, accounts in sorted order (a fixed lock order for callers)."""
    grouped: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        grouped[event.parsed.account_id].append(event)
    return {account_id: grouped[account_id] for account_id in sorted(grouped)}


def fold_events(
    state: State,
    events: Sequence[Event],
    ctx: BatchContext,
    *,
    apply: Callable[[State, Sequence[Event]], State],
) -> tuple[State, list[Event]]:
    """Apply one account's new events in the order consumed (the runner's merge puts a partition
    group in event time; a late event stays where it came, whichever batch it is in: sorting a batch
    would reorder what is inside it but not across batches, and records of one instant by id rather
    than as they were written); returns the new state and the events that applied. One fold for the
    lot; only if it rejects an event (``EventRejected``: the event's data is at fault), event by
    event, dead-lettering just the events rejected and keeping the rest.
    Any other exception is a bug: it propagates and stops the batch (``shared.rejection``)."""
    ordered = list(events)
    try:
        return apply(state, ordered), ordered
    except EVENT_FAULTS:
        pass
    applied: list[Event] = []
    for event in ordered:
        try:
            state = apply(state, [event])
        except EVENT_FAULTS as exc:
            log.warning("event cannot be applied to the account's state",
                        extra={"event_id": event.parsed.event_id, "error": repr(exc)})
            ctx.reject(event, f"{ctx.service} cannot apply {event.parsed.type}: {exc}")
            continue
        applied.append(event)
    return state, applied


def fold_accounts(
    grouped: Mapping[str, Sequence[Event]],
    ctx: BatchContext,
    *,
    start: Callable[[str], State],
    apply: Callable[[str], Callable[[State, Sequence[Event]], State]],
) -> dict[str, tuple[State, list[Event]]]:
    """Each account's new events folded from its `start` state by its `apply` (``fold_events``): the
    new state and the events that applied, for the accounts where at least one did; an account all of
    whose events were rejected keeps its stored state untouched."""
    folded: dict[str, tuple[State, list[Event]]] = {}
    for account_id, account_events in grouped.items():
        state, applied = fold_events(start(account_id), account_events, ctx, apply=apply(account_id))
        if applied:
            folded[account_id] = (state, applied)
    return folded


def latest_per_partition(events: Sequence[ConsumedEvent[Consumable]]) -> dict[int, datetime]:
    """The latest event time per partition of a batch: what its stream watermarks move to."""
    latest: dict[int, datetime] = {}
    for event in events:
        at = event.parsed.occurred_at
        latest[event.partition] = max(latest.get(event.partition, at), at)
    return latest


class AccountFold(ABC, Generic[Loaded, State, Event]):
    """A batch handler in four steps: the batch's accounts locked and loaded in one go (`load`), each
    account's new events folded from its `start` state by `apply` in the order consumed (`fold_accounts`:
    an event the domain rejects is dead-lettered, the rest apply), and what changed written and emitted
    through the batch's outbox (`store`), all in the batch's transaction."""

    async def __call__(self, ctx: BatchContext, events: Sequence[Event]) -> None:
        grouped = by_account(events)
        loaded = await self.load(ctx.session, list(grouped))
        await self.before_fold(ctx, events)
        folded = fold_accounts(grouped, ctx, start=partial(self.start, loaded=loaded),
                               apply=lambda account_id: partial(self.apply, account_id))
        await self.store(ctx, folded)

    @abstractmethod
    async def load(self, session: AsyncSession, account_ids: list[str]) -> Loaded:
        """Lock and load the accounts' stored state (ids in sorted order: a fixed lock order)."""

    async def before_fold(self, ctx: BatchContext, events: Sequence[Event]) -> None:
        """Anything the fold reads besides the accounts, once they are locked (by default nothing):
        expansion moves its stream watermarks here, then reads the cohort norms in force."""

    @abstractmethod
    def start(self, account_id: str, *, loaded: Loaded) -> State:
        """The state an account's fold starts from (a new account's when nothing is stored)."""

    @abstractmethod
    def apply(self, account_id: str, state: State, events: Sequence[Event]) -> State:
        """Fold events into the state; raise an event fault (`shared.rejection`) for an event at fault."""

    @abstractmethod
    async def store(self, ctx: BatchContext, folded: dict[str, tuple[State, list[Event]]]) -> None:
        """Write the accounts whose events applied, with the events that applied, and emit what they
        raised through `ctx.outbox`."""
