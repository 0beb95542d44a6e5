"""The one path from stored accounts to written results, shared by the batch handler (after it
folds new events in), the scheduler (silence counts) and a scorecard change:

    load (lock, one query, current scorecards) -> `evaluate` each account -> save + emit.

`rescore` is that path without new events: the stored signals scored again at a given time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.health.domain import Scorecard
from services.health.evaluation import Cause, Evaluation, StoredAccount, evaluate
from services.health.outputs import emit
from services.health.store import HealthTables, load_accounts, load_scorecards, lock_accounts, save_evaluations
from shared.outbox import Outbox
from shared.settings import TopicSettings

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Pipeline:
    tables: HealthTables
    topics: TopicSettings
    clock: Clock = utc_now
    """Wall-clock time, for `emitted_at` and the scheduler's "now"; never for event-driven scores."""

    async def load(
        self, session: AsyncSession, account_ids: Sequence[str]
    ) -> tuple[dict[str, StoredAccount], dict[str, Scorecard]]:
        """Lock the accounts for this transaction, then load them and the current scorecards."""
        await lock_accounts(session, self.tables, account_ids)
        accounts = await load_accounts(session, self.tables, account_ids)
        return accounts, await load_scorecards(session, self.tables)

    async def write(
        self, session: AsyncSession, outbox: Outbox, evaluations: Sequence[Evaluation], *, signals_changed: bool = True
    ) -> None:
        await save_evaluations(session, self.tables, evaluations, signals_changed=signals_changed)
        emit(outbox, evaluations, topics=self.topics, emitted_at=self.clock())

    async def rescore(
        self,
        session: AsyncSession,
        outbox: Outbox,
        account_ids: Sequence[str],
        *,
        as_of: datetime | None,
        cause: Cause,
    ) -> list[Evaluation]:
        """Score these accounts again from their stored signals, at `as_of` (None: at the time of
        each account's current score, so only the scorecard differs) and write the results."""
        accounts, scorecards = await self.load(session, sorted(account_ids))
        evaluations = [
            evaluate(account, signals=account.signals, scorecards=scorecards, cause=cause,
                     as_of=as_of or (account.score.as_of if account.score else self.clock()))
            for account in accounts.values()
        ]
        await self.write(session, outbox, evaluations, signals_changed=False)
        return evaluations
