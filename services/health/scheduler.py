"""Scheduled re-evaluation: silence counts.

An account whose usage stops sends no event that says so, yet its windows empty out as time passes.
Every `interval` the scheduler rescores, at "now", each account whose score is older than the
interval, in chunks (one transaction per chunk, keyset over account ids), through the same pipeline
as the batch handler, so its scores, history entries, alerts and output events are the same kind.

One instance at a time: a session-level advisory lock held for the pass; the other instances skip
their turn. Should the holder die, its connection closes and the lock goes with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.health.evaluation import Cause, Evaluation
from services.health.pipeline import Pipeline
from services.health.store import accounts_of_scorecard, due_accounts
from shared.db import unit_of_work
from shared.outbox import Outbox, write_outbox

log = logging.getLogger(__name__)

ChunkQuery = Callable[[AsyncSession, str], Awaitable[list[str]]]


@dataclass(frozen=True)
class RescoreReport:
    accounts: int
    changed: int
    alerts: int
    chunks: int


class Rescorer:
    """Rescoring in chunks: the scheduler's pass and a scorecard change's rescore."""

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        interval_s: float,
        chunk: int,
        on_committed: Callable[[], None] = lambda: None,
        caught_up: Callable[[], bool] = lambda: True,
    ) -> None:
        self._pipeline = pipeline
        self._engine = engine
        self._sessions = sessions
        self._interval = timedelta(seconds=interval_s)
        self._chunk = chunk
        self._on_committed = on_committed
        self._caught_up = caught_up
        self._lock_key = f"health-scheduler:{pipeline.tables.schema}"

    async def run(self) -> None:
        """The background loop: a pass now, then one every interval, until cancelled."""
        while True:
            if not self._caught_up():
                # Events are still queued: "now" is ahead of them, and an account whose recent
                # events wait in the backlog would look silent. Try again shortly.
                await asyncio.sleep(min(self._interval.total_seconds(), 5.0))
                continue
            try:
                report = await self.rescore_due()
                if report is not None and report.accounts:
                    log.info("scheduled rescore done", extra=report.__dict__)
            except Exception:
                # The next pass retries; a failed chunk rolled back and left its accounts due.
                log.exception("scheduled rescore failed")
            await asyncio.sleep(self._interval.total_seconds())

    async def rescore_due(self, *, as_of: datetime | None = None) -> RescoreReport | None:
        """Rescore every account not scored since `as_of - interval`, at `as_of` (default: now).
        None when another instance's pass holds the lock."""
        as_of = as_of or self._pipeline.clock()
        cutoff = as_of - self._interval
        async with self._engine.connect() as conn:
            locked = await conn.scalar(sa.select(sa.func.pg_try_advisory_lock(sa.func.hashtext(self._lock_key))))
            await conn.commit()
            if not locked:
                return None
            try:
                return await self._in_chunks(
                    lambda session, after: due_accounts(session, self._pipeline.tables, cutoff=cutoff,
                                                        after=after, limit=self._chunk),
                    as_of=as_of, cause="schedule",
                )
            finally:
                await conn.execute(sa.select(sa.func.pg_advisory_unlock(sa.func.hashtext(self._lock_key))))
                await conn.commit()

    async def rescore_scorecard(self, segment: str) -> RescoreReport:
        """After a new version of `segment`'s scorecard: rescore the accounts it may affect, each at
        the time of its current score, so the change in the history is the config's alone."""
        return await self._in_chunks(
            lambda session, after: accounts_of_scorecard(session, self._pipeline.tables, segment,
                                                         after=after, limit=self._chunk),
            as_of=None, cause="scorecard",
        )

    async def _in_chunks(self, next_chunk: ChunkQuery, *, as_of: datetime | None, cause: Cause) -> RescoreReport:
        after, accounts, changed, alerts, chunks = "", 0, 0, 0, 0
        while True:
            async with unit_of_work(self._sessions) as session:
                account_ids = await next_chunk(session, after)
                if not account_ids:
                    break
                evaluations = await self._rescore(session, account_ids, as_of=as_of, cause=cause)
            self._on_committed()
            after = account_ids[-1]
            chunks += 1
            accounts += len(evaluations)
            changed += sum(1 for e in evaluations if e.changed)
            alerts += sum(len(e.decisions.decisions) for e in evaluations)
        return RescoreReport(accounts=accounts, changed=changed, alerts=alerts, chunks=chunks)

    async def _rescore(
        self, session: AsyncSession, account_ids: Sequence[str], *, as_of: datetime | None, cause: Cause
    ) -> list[Evaluation]:
        outbox = Outbox()
        evaluations = await self._pipeline.rescore(session, outbox, account_ids, as_of=as_of, cause=cause)
        await write_outbox(session, self._pipeline.tables.plumbing.outbox, outbox.messages)
        return evaluations
