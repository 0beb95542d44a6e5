"""The batch handler: contract events and `health.changed` records in; renewals, ARR spans and
`renewal_at_risk` alerts out. Follow one event: `RenewalsHandler.__call__` groups the batch by
account, `fold_events` applies each account's new events (`_apply`: contract events are kept and
re-folded, a health record replaces an older one), every renewal of a touched account is upserted
with its risk, and the alert rule runs on each at the account's latest event time.

Per batch, whatever its size: one statement locks and loads the accounts, one upserts the renewals,
one mirrors their alert states, two replace the ARR spans, one saves
the accounts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from services.renewals import outputs
from services.renewals.domain import (
    AccountBook,
    AlertState,
    ContractEvent,
    Health,
    Renewal,
    apply_contract_events,
    apply_health,
    decide_alert,
    with_alerts,
)
from services.renewals.inputs import HEALTH_CHANGED, health_record
from services.renewals.store import (
    RenewalsTables,
    lock_and_load_accounts,
    replace_arr_spans,
    save_alert_states,
    save_books,
    upsert_renewals,
)
from shared.accounts import by_account, fold_events
from shared.consumer import BatchContext, ConsumedEvent


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RenewalsHandler:
    tables: RenewalsTables
    churn_risk_topic: str
    window_days: int
    clock: Callable[[], datetime] = utc_now
    """Wall-clock time, for `emitted_at` only; the alert rule judges at event time."""

    async def __call__(self, ctx: BatchContext, events: Sequence[ConsumedEvent]) -> None:
        grouped = by_account(events)
        stored = await lock_and_load_accounts(ctx.session, self.tables, list(grouped))

        books: dict[str, AccountBook] = {}
        for account_id, account_events in grouped.items():
            book, applied = fold_events(stored.get(account_id) or AccountBook(), account_events, ctx, apply=_apply)
            if applied:
                books[account_id] = book

        judged = {account_id: book.renewals(account_id) for account_id, book in books.items()}
        await upsert_renewals(ctx.session, self.tables,
                              [(r, *_health_columns(books[a].health)) for a, rs in judged.items() for r in rs])
        alerts: list[outputs.RenewalAlert] = []
        changed: dict[str, AlertState] = {}
        for account_id, renewals in judged.items():
            account_alerts, account_changes = self._alerts(books[account_id], renewals)
            books[account_id] = with_alerts(books[account_id], account_changes)
            alerts += account_alerts
            changed |= account_changes
        await save_alert_states(ctx.session, self.tables, changed)
        await replace_arr_spans(ctx.session, self.tables, {a: book.spans() for a, book in books.items()})
        await save_books(ctx.session, self.tables, books)
        outputs.emit(ctx.outbox, alerts, topic=self.churn_risk_topic)

    def _alerts(
        self, book: AccountBook, renewals: Sequence[Renewal]
    ) -> tuple[list[outputs.RenewalAlert], dict[str, AlertState]]:
        alerts: list[outputs.RenewalAlert] = []
        changed: dict[str, AlertState] = {}
        # Judged at the account's latest event time, not the wall clock: a replay decides the same way.
        if book.health is None or book.latest_at is None:
            return alerts, changed
        emitted_at = self.clock()
        for renewal in renewals:
            decision = decide_alert(renewal, book.alerts.get(renewal.renewal_id, AlertState()),
                                    today=book.latest_at.date(), window_days=self.window_days)
            if decision is None:
                continue
            changed[renewal.renewal_id] = decision.state
            alerts.append(outputs.renewal_alert(decision, book.health, occurred_at=book.latest_at,
                                                emitted_at=emitted_at))
        return alerts, changed


def _health_columns(health: Health | None) -> tuple[float | None, str | None]:
    return (None, None) if health is None else (health.score, health.grade)


def _apply(book: AccountBook, events: Sequence[ConsumedEvent]) -> AccountBook:
    contract_events = []
    for event in events:
        envelope = event.envelope
        if envelope.type == HEALTH_CHANGED:  # type: ignore[comparison-overlap]  # see inputs.py
            record = health_record(event)
            book = apply_health(book, Health(score=record.score, grade=record.grade,
                                             previous_score=record.previous_score, at=record.occurred_at,
                                             event_id=record.event_id))
        elif envelope.type.startswith("contract."):
            contract_events.append(ContractEvent(envelope.event_id, envelope.type, envelope.occurred_at,
                                                 envelope.data.model_dump(mode="json")))
    return apply_contract_events(book, contract_events)
