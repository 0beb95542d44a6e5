"""The batch handler: usage, interaction and contract events in; scores, history, alerts and output
events out. Follow one event: `HealthHandler.__call__` groups the batch by account, the domain's
`advance` folds each event into the account's signals (the rules per event type are registered in
`services.health.domain.fold`) and evaluates the account at every point in event time (each event,
each midnight passed), and the pipeline writes everything back and records the output events in the
outbox.

Per batch, whatever its size: one statement to lock the accounts, one to load them, one to read the
current scorecards, then one upsert of accounts, one insert of history, one upsert of alerts, and the
account timeline's two (its entries, its daily usage roll-ups; `timeline_store`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.health.domain import StoredAccount, advance
from services.health.domain.entries import TimelineInput
from services.health.pipeline import Pipeline
from services.health.timeline_store import record_timeline
from shared.accounts import by_account, latest_per_partition
from shared.consumer import BatchContext, ConsumedEvent
from shared.signal_events import signal_event_of
from shared.watermarks import advance_watermarks


@dataclass(frozen=True)
class HealthHandler:
    pipeline: Pipeline

    async def __call__(self, ctx: BatchContext, events: Sequence[ConsumedEvent]) -> None:
        grouped = by_account(events)
        stored, scorecards = await self.pipeline.load(ctx.session, list(grouped))
        # The watermarks move before the norms are read: a norms build waits for this batch, or this
        # batch for it and then sees its version (which is in force only after every point it may score).
        await advance_watermarks(ctx.session, self.pipeline.tables.stream_watermarks, latest_per_partition(events))
        norms = await self.pipeline.norms(ctx.session)
        advances = []
        refused: set[str] = set()
        for account_id, account_events in grouped.items():
            account = stored.get(account_id) or StoredAccount(account_id)
            moved = advance(account, [signal_event_of(e.parsed) for e in account_events], scorecards=scorecards,
                            norms=norms)
            consumed = {e.parsed.event_id: e for e in account_events}
            for rejected in moved.rejected:
                refused.add(rejected.event.event_id)
                ctx.reject(consumed[rejected.event.event_id], f"{ctx.service}: {rejected.reason}")
            if moved.evaluations or moved.folded:
                advances.append(moved)
        await self.pipeline.write(ctx.session, ctx.outbox, advances,
                                  partitions={a: es[0].partition for a, es in grouped.items()})
        await record_timeline(ctx.session, self.pipeline.tables.timeline,
                              [timeline_input(e) for e in events if e.parsed.event_id not in refused])


def timeline_input(event: ConsumedEvent) -> TimelineInput:
    e = event.parsed
    return TimelineInput(e.account_id, e.event_id, e.type, e.occurred_at, e.source, e.data.model_dump(mode="json"))
