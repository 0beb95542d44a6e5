"""The batch handler: usage, interaction and contract events in; scores, history, alerts and output
events out. Follow one event: `HealthHandler.__call__` groups the batch by account, `fold_events` applies
each account's new events to its signals (the domain's rules, one per event type, registered in
`services.health.domain.fold`), `evaluate` scores each touched account once, and the pipeline
writes everything back and records the output events in the outbox.

Per batch, whatever its size: one statement to lock the accounts, one to load them, one to read the
current scorecards, then one upsert of accounts, one insert of history and one upsert of alerts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.health.domain import AccountSignals, SignalEvent, apply_events
from services.health.evaluation import StoredAccount, evaluate
from services.health.pipeline import Pipeline
from shared.accounts import by_account, fold_events
from shared.consumer import BatchContext, ConsumedEvent


@dataclass(frozen=True)
class HealthHandler:
    pipeline: Pipeline

    async def __call__(self, ctx: BatchContext, events: Sequence[ConsumedEvent]) -> None:
        grouped = by_account(events)
        stored, scorecards = await self.pipeline.load(ctx.session, list(grouped))

        evaluations = []
        for account_id, account_events in grouped.items():
            account = stored.get(account_id) or StoredAccount(account_id)
            signals, applied = fold_events(account.signals, account_events, ctx, apply=_apply)
            if not applied:
                continue
            latest = max(e.envelope.occurred_at for e in applied)
            evaluations.append(evaluate(account, signals=signals, scorecards=scorecards, as_of=latest,
                                        cause="event", last_event_at=latest))
        await self.pipeline.write(ctx.session, ctx.outbox, evaluations)


def _apply(signals: AccountSignals, events: Sequence[ConsumedEvent]) -> AccountSignals:
    return apply_events(
        signals,
        [SignalEvent(e.envelope.event_id, e.envelope.type, e.envelope.occurred_at, e.envelope.data.model_dump())
         for e in events],
    )
