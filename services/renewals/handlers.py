"""The batch handler: contract events and `health.changed` records in; renewals, ARR spans and
`renewal_at_risk` alerts out. Follow one event: `RenewalsHandler` (a `shared.accounts.AccountFold`)
groups the batch by account, its `apply` applies each account's new events in the order consumed, and each event is a
point in time (`domain.judging`): the midnights since the account's last point are judged first
(what the scheduled pass would have judged had it got there first), then the event is applied
(contract events are kept and re-folded, a health record joins the trail) and every renewal of the
account is judged at the event's time. `store_judged` then writes what the judgements produced.

Per batch, whatever its size: one statement locks and loads the accounts, one upserts the renewals,
one mirrors their alert states, two replace the ARR spans, one saves the accounts, one their place
in the schedule and one the stream's watermarks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.renewals import outputs
from services.renewals.domain import (
    AccountBook,
    AlertState,
    Judged,
    JudgingRules,
    apply_contract_events,
    apply_health,
    health_at,
    judge_event,
    next_due,
)
from services.renewals.inputs import RenewalsInput
from services.renewals.store import (
    Due,
    RenewalsTables,
    account_books,
    replace_arr_spans,
    save_alert_states,
    save_schedule,
    upsert_renewals,
)
from shared.accounts import AccountFold, latest_per_partition
from shared.clock import Clock, utc_now
from shared.consumer import BatchContext, ConsumedEvent
from shared.contracts import contract_event_of
from shared.events import HealthChanged
from shared.health_reading import HealthReading
from shared.outbox import Outbox
from shared.watermarks import advance_watermarks


@dataclass(frozen=True)
class RenewalsHandler(AccountFold[dict[str, AccountBook], Judged, ConsumedEvent[RenewalsInput]]):
    tables: RenewalsTables
    churn_risk_topic: str
    rules: JudgingRules
    clock: Clock = utc_now
    """Wall-clock time, for `emitted_at` only; the judgements are made at event time."""

    async def load(self, session: AsyncSession, account_ids: list[str]) -> dict[str, AccountBook]:
        return await account_books.lock_and_load(session, self.tables, account_ids)

    def start(self, account_id: str, *, loaded: dict[str, AccountBook]) -> Judged:
        return Judged(loaded.get(account_id) or AccountBook())

    def apply(self, account_id: str, state: Judged, events: Sequence[ConsumedEvent[RenewalsInput]]) -> Judged:
        for event in events:
            change = _change_of(event)
            if change is not None:
                state = judge_event(state, account_id, at=event.parsed.occurred_at, apply=change, rules=self.rules)
        return state

    async def store(self, ctx: BatchContext,
                    folded: dict[str, tuple[Judged, list[ConsumedEvent[RenewalsInput]]]]) -> None:
        await store_judged(ctx.session, self.tables, {a: judged for a, (judged, _) in folded.items()},
                           partitions={a: applied[-1].partition for a, (_, applied) in folded.items()},
                           rules=self.rules, outbox=ctx.outbox, topic=self.churn_risk_topic, emitted_at=self.clock(),
                           contracts=True)
        await advance_watermarks(ctx.session, self.tables.stream_watermarks,
                                 latest_per_partition([e for _, applied in folded.values() for e in applied]))


def _change_of(event: ConsumedEvent[RenewalsInput]) -> Callable[[AccountBook], AccountBook] | None:
    """What the event does to the book; None for an event renewals does not fold (it is no point)."""
    record = event.parsed
    if isinstance(record, HealthChanged):
        health = HealthReading.of(record)
        return lambda book: apply_health(book, health)
    if record.type.startswith("contract."):
        contract_event = contract_event_of(record)
        return lambda book: apply_contract_events(book, [contract_event])
    return None


async def store_judged(
    session: AsyncSession, tables: RenewalsTables, judged: Mapping[str, Judged], *,
    partitions: Mapping[str, int | None], rules: JudgingRules, outbox: Outbox, topic: str, emitted_at: datetime,
    contracts: bool,
) -> None:
    """Write what judging the accounts produced: their renewals as of their last point (with the
    health they were judged on), alert states, books, next due days and alerts; their ARR spans too
    when `contracts` may have changed."""
    rows = []
    states: dict[str, AlertState] = {}
    for account_id, result in judged.items():
        book = result.book
        if book.judged_at is None:
            continue
        health = health_at(book.health_trail, book.judged_at)
        score, grade = (None, None) if health is None else (health.score, health.grade)
        rows += [(r, score, grade) for r in book.renewals(account_id, at=book.judged_at, rules=rules.risk)]
        states |= book.alerts
    await upsert_renewals(session, tables, rows)
    await save_alert_states(session, tables, states)
    books = {account_id: result.book for account_id, result in judged.items()}
    if contracts:
        await replace_arr_spans(session, tables, {a: book.spans() for a, book in books.items()})
    await account_books.save(session, tables, books)
    await save_schedule(session, tables, {
        a: Due(partitions.get(a), next_due(book, rules=rules), book.judged_at) for a, book in books.items()})
    alerts = [outputs.renewal_alert(d, emitted_at=emitted_at) for r in judged.values() for d in r.decisions]
    outputs.emit(outbox, alerts, topic=topic)
