"""The batch handler: usage, interaction and contract events in; scores, history, alerts and output
events out. Follow one event: `HealthHandler.__call__` groups the batch by account, `_fold` applies
each account's new events to its signals (the domain's rules, one per event type, registered in
`services.health.domain.fold`), `evaluate` scores each touched account once, and the pipeline
writes everything back and records the output events in the outbox.

Per batch, whatever its size: one statement to lock the accounts, one to load them, one to read the
current scorecards, then one upsert of accounts, one insert of history and one upsert of alerts.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from services.health.domain import AccountSignals, SignalEvent, apply_event, apply_events
from services.health.evaluation import StoredAccount, evaluate
from services.health.pipeline import Pipeline
from shared.consumer import BatchContext, ConsumedEvent

log = logging.getLogger(__name__)

# What a fold can raise on an event it cannot apply (an amendment of a contract never signed, with
# fields missing): a data problem of that one event, which goes to the DLQ with its reason.
_DATA_ERRORS = (ValueError, TypeError, KeyError, ArithmeticError)


@dataclass(frozen=True)
class HealthHandler:
    pipeline: Pipeline

    async def __call__(self, ctx: BatchContext, events: Sequence[ConsumedEvent]) -> None:
        by_account: dict[str, list[ConsumedEvent]] = defaultdict(list)
        for event in events:
            by_account[event.envelope.account_id].append(event)
        account_ids = sorted(by_account)
        stored, scorecards = await self.pipeline.load(ctx.session, account_ids)

        evaluations = []
        for account_id in account_ids:
            account = stored.get(account_id) or StoredAccount(account_id)
            signals, applied = _fold(account.signals, by_account[account_id], ctx)
            if not applied:
                continue
            latest = max(e.envelope.occurred_at for e in applied)
            evaluations.append(evaluate(account, signals=signals, scorecards=scorecards, as_of=latest,
                                        cause="event", last_event_at=latest))
        await self.pipeline.write(ctx.session, ctx.outbox, evaluations)


def _signal_event(event: ConsumedEvent) -> SignalEvent:
    envelope = event.envelope
    return SignalEvent(envelope.event_id, envelope.type, envelope.occurred_at, envelope.data.model_dump())


def _fold(
    signals: AccountSignals, events: list[ConsumedEvent], ctx: BatchContext
) -> tuple[AccountSignals, list[ConsumedEvent]]:
    """Apply one account's new events in event-time order; returns the new signals and the events
    that applied. One fold for the lot; only if it fails, event by event, to dead-letter just the
    event that cannot be applied and keep the rest."""
    ordered = sorted(events, key=lambda e: (e.envelope.occurred_at, e.envelope.event_id))
    converted = [_signal_event(e) for e in ordered]
    try:
        return apply_events(signals, converted), ordered
    except _DATA_ERRORS:
        pass
    applied = []
    for event, signal_event in zip(ordered, converted, strict=True):
        try:
            signals = apply_event(signals, event_id=signal_event.event_id, event_type=signal_event.event_type,
                                  occurred_at=signal_event.occurred_at, data=signal_event.data)
        except _DATA_ERRORS as exc:
            log.warning("event cannot be applied to the account's signals",
                        extra={"event_id": event.envelope.event_id, "error": repr(exc)})
            ctx.reject(event, f"health cannot apply {event.envelope.type}: {exc}")
            continue
        applied.append(event)
    return signals, applied
