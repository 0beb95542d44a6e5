"""The batch handler: usage, interaction and contract events in; account signals, opportunities and
`upsell.triggered` events out. Follow one event: `ExpansionHandler.__call__` groups the batch by
account, `fold_events` applies each account's new events (`domain.apply_events`), the rules run once per
touched account at its latest event time, and new opportunities are inserted and announced.

Per batch, whatever its size: one statement locks and loads the accounts, one reads their latest
opportunity episodes, one saves the signals, one inserts the new opportunities.
"""

from __future__ import annotations

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
from shared.accounts import by_account, fold_events
from shared.consumer import BatchContext, ConsumedEvent


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
        grouped = by_account(events)
        account_ids = list(grouped)
        stored = await lock_and_load_accounts(ctx.session, self.tables, account_ids)
        episodes = await latest_episodes(ctx.session, self.tables, account_ids)

        folded: dict[str, ExpansionSignals] = {}
        opened: list[NewOpportunity] = []
        for account_id, account_events in grouped.items():
            signals, applied = fold_events(stored.get(account_id) or ExpansionSignals(), account_events, ctx,
                                           apply=_apply)
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


def _apply(signals: ExpansionSignals, events: Sequence[ConsumedEvent]) -> ExpansionSignals:
    return apply_events(
        signals,
        [SignalEvent(e.envelope.event_id, e.envelope.type, e.envelope.occurred_at, e.envelope.data.model_dump())
         for e in events],
    )
