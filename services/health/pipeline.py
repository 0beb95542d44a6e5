"""The one path from stored accounts to written results, shared by the batch handler (new events),
the scheduler (midnights passing: silence counts) and a scorecard change:

    load (lock, one query, current scorecards) -> `advance` / `evaluate` each account -> save + emit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.health.domain import (
    Advance,
    Cause,
    CohortNorms,
    NormsHistory,
    Scorecard,
    StoredAccount,
    advance,
    evaluate,
    norms_from_json,
)
from services.health.outputs import all_output_events, churn_risk_by_id, emit
from services.health.store import (
    HealthTables,
    load_accounts,
    load_scorecards,
    lock_accounts,
)
from services.health.store_writes import save_advances
from shared.clock import Clock, utc_now
from shared.norm_store import NormCache
from shared.outbox import Outbox
from shared.settings import TopicSettings


@dataclass
class Pipeline:
    tables: HealthTables
    topics: TopicSettings
    clock: Clock = utc_now
    """Wall-clock time, for `emitted_at` and the scheduler's "now"; never for event-driven scores."""
    _norms: NormCache[CohortNorms, NormsHistory] = field(init=False, compare=False)
    """The norm versions last loaded (reloaded only when a new version appears)."""

    def __post_init__(self) -> None:
        self._norms = NormCache(self.tables.cohort_norms, norms_from_json, NormsHistory)

    async def load(
        self, session: AsyncSession, account_ids: Sequence[str]
    ) -> tuple[dict[str, StoredAccount], dict[str, Scorecard]]:
        """Lock the accounts for this transaction, then load them and the current scorecards."""
        await lock_accounts(session, self.tables, account_ids)
        accounts = await load_accounts(session, self.tables, account_ids)
        return accounts, await load_scorecards(session, self.tables)

    async def norms(self, session: AsyncSession) -> NormsHistory:
        """The cohort norm versions, from a cache that one cheap query keeps current."""
        return await self._norms.get(session)

    async def write(
        self, session: AsyncSession, outbox: Outbox, advances: Sequence[Advance],
        partitions: Mapping[str, int] | None = None,
    ) -> None:
        events = all_output_events([e for a in advances for e in a.evaluations], topics=self.topics,
                                   emitted_at=self.clock())
        await save_advances(session, self.tables, advances, partitions, alerts=churn_risk_by_id(events))
        emit(outbox, events)

    async def advance_to(
        self, session: AsyncSession, outbox: Outbox, account_ids: Sequence[str], *, until: datetime
    ) -> list[Advance]:
        """Bring these accounts to `until` (a midnight): every midnight since each one's latest point
        is evaluated. An account already there whose scorecard changed is evaluated again at its point."""
        accounts, scorecards = await self.load(session, sorted(account_ids))
        norms = await self.norms(session)
        advances = []
        for account in accounts.values():
            moved = advance(account, [], scorecards=scorecards, norms=norms, until=until)
            if not moved.evaluations and account.score is not None:
                moved = _at_current_point(account, scorecards, norms, cause="scorecard")
            advances.append(moved)
        await self.write(session, outbox, advances)
        return advances

    async def rescore(
        self, session: AsyncSession, outbox: Outbox, account_ids: Sequence[str], *, cause: Cause
    ) -> list[Advance]:
        """Score these accounts again at their latest point with the current scorecards, so the
        change in the history is the configuration's alone."""
        accounts, scorecards = await self.load(session, sorted(account_ids))
        norms = await self.norms(session)
        advances = [_at_current_point(a, scorecards, norms, cause=cause) for a in accounts.values()
                    if a.score is not None]
        await self.write(session, outbox, advances)
        return advances


def _at_current_point(
    account: StoredAccount, scorecards: dict[str, Scorecard], norms: NormsHistory, *, cause: Cause
) -> Advance:
    assert account.score is not None
    as_of = account.score.as_of
    evaluation = evaluate(account, signals=account.signals, scorecards=scorecards, as_of=as_of, cause=cause,
                          norms=norms.at(as_of))
    return Advance(evaluation.stored(), (evaluation,))
