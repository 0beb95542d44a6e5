"""The batch handler: usage, interaction and contract events in; account signals, opportunities and
`upsell.triggered` events out. Follow one event: `ExpansionHandler.__call__` groups the batch by
account, `_fold` applies each account's new events (`domain.apply_events`), the rules run once per
touched account at its latest event time, and new opportunities are inserted and announced.

Per batch, whatever its size: one statement locks and loads the accounts, one reads their latest
opportunity episodes, one saves the signals, one inserts the new opportunities.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from services.expansion import outputs
from services.expansion.domain import (
    Catalogue,
    ExpansionSignals,
    NewOpportunity,
    SignalEvent,
    Thresholds,
    apply_events,
    evaluate_triggers,
    new_opportunities,
    snapshot,
)
from services.expansion.store import (
    ExpansionTables,
    insert_opportunities,
    latest_episodes,
    lock_and_load_accounts,
    save_signals,
)
from shared.consumer import BatchContext, ConsumedEvent

log = logging.getLogger(__name__)

# What a fold can raise on an event it cannot apply: a data problem of that one event (DLQ).
_DATA_ERRORS = (ValueError, TypeError, KeyError, ArithmeticError)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ExpansionHandler:
    tables: ExpansionTables
    catalogue: Catalogue
    thresholds: Thresholds
    upsell_topic: str
    clock: Callable[[], datetime] = utc_now
    """Wall-clock time, for `emitted_at` only; triggers are judged at event time."""

    async def __call__(self, ctx: BatchContext, events: Sequence[ConsumedEvent]) -> None:
        by_account: dict[str, list[ConsumedEvent]] = defaultdict(list)
        for event in events:
            by_account[event.envelope.account_id].append(event)
        account_ids = sorted(by_account)
        stored = await lock_and_load_accounts(ctx.session, self.tables, account_ids)
        episodes = await latest_episodes(ctx.session, self.tables, account_ids)

        folded: dict[str, ExpansionSignals] = {}
        opened: list[NewOpportunity] = []
        for account_id in account_ids:
            signals, applied = _fold(stored.get(account_id) or ExpansionSignals(), by_account[account_id], ctx)
            if not applied:
                continue
            folded[account_id] = signals
            # The account's latest event time, not this batch's: a late contract event must not
            # judge the account as it was months ago (the topics are consumed independently).
            as_of = signals.latest_at or max(e.envelope.occurred_at for e in applied)
            snap = snapshot(account_id, signals, self.thresholds, as_of=as_of)
            triggers = evaluate_triggers(snap, self.catalogue, self.thresholds)
            opened += new_opportunities(account_id, triggers, episodes.get(account_id, {}), self.thresholds,
                                        as_of=as_of)
        await save_signals(ctx.session, self.tables, folded)
        inserted = await insert_opportunities(ctx.session, self.tables, opened)
        outputs.emit(ctx.outbox, [o for o in opened if o.opportunity_id in inserted], topic=self.upsell_topic,
                     emitted_at=self.clock())


def _signal_event(event: ConsumedEvent) -> SignalEvent:
    envelope = event.envelope
    return SignalEvent(envelope.event_id, envelope.type, envelope.occurred_at, envelope.data.model_dump())


def _fold(
    signals: ExpansionSignals, events: list[ConsumedEvent], ctx: BatchContext
) -> tuple[ExpansionSignals, list[ConsumedEvent]]:
    """Apply one account's new events in event-time order. One fold for the lot; only if it fails,
    event by event, to dead-letter just the event that cannot be applied and keep the rest."""
    ordered = sorted(events, key=lambda e: (e.envelope.occurred_at, e.envelope.event_id))
    converted = [_signal_event(e) for e in ordered]
    try:
        return apply_events(signals, converted), ordered
    except _DATA_ERRORS:
        pass
    applied = []
    for event, signal_event in zip(ordered, converted, strict=True):
        try:
            signals = apply_events(signals, [signal_event])
        except _DATA_ERRORS as exc:
            log.warning("event cannot be applied to the account's signals",
                        extra={"event_id": event.envelope.event_id, "error": repr(exc)})
            ctx.reject(event, f"expansion cannot apply {event.envelope.type}: {exc}")
            continue
        applied.append(event)
    return signals, applied
