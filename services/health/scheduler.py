"""Scheduled re-evaluation: silence counts.

An account whose usage stops sends no event that says so, yet its windows move as the days pass.
Every `interval` the scheduler brings each account whose latest point is before the last midnight up
to it (the last midnight of wall-clock time, but never past the latest event time the service has
seen: during a backfill "now" is ahead of the data): every midnight since is evaluated, exactly as
the batch handler does when an account's next event arrives after a gap (`domain.timeline`), so a
live run, a replay and a restart give the same history. Midnight is taken `grace` after the fact,
so events up to `grace` late still land before it. Chunks of accounts, one transaction per chunk,
keyset over account ids. A stream silent as a whole has nothing to judge by and is not advanced;
reads still show each account as of now.

Instances split a pass by partition group: each group is brought forward under a session-level
advisory lock of its own, and a pass skips a group another instance holds (it is doing that group).
In a running service a pass judges only the groups its consumer owns and has read to the end
(`settled_groups`), so instances work on their own partitions side by side; the locks keep two off one
group while partitions move in a rebalance, and share out the accounts of no known group and a pass run
without a consumer (a tool, the bench). Should a holder die, its connection closes and its locks go with
it. The cohort norms are refreshed once, by a pass that finds no other pass part-way through a group
(`shared.passes.locked_pass`'s `first`). The loop, the locks, the per-group limits and the chunks are
`shared.passes`', shared with renewals' scheduled pass.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.health.domain import Advance, norms_effective_from, today_midnight
from services.health.pipeline import Pipeline
from services.health.store import accounts_of_scorecard, due_accounts, refresh_norms
from shared.db import unit_of_work
from shared.metrics import RESCORE_PASSES, record_rescore_pass
from shared.norm_store import latest_start
from shared.norm_versions import refresh_start
from shared.outbox import Outbox
from shared.passes import PassWiring, in_chunks, locked_pass, read_untils, run_periodically, total
from shared.watermarks import hold_watermarks

log = logging.getLogger(__name__)

ChunkQuery = Callable[[AsyncSession, str], Awaitable[list[str]]]
ChunkWork = Callable[[AsyncSession, Outbox, list[str]], Awaitable[list[Advance]]]


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
        wiring: PassWiring,
        norms_refresh_s: float = 86_400.0,
        norms_keep_days: int = 400,
    ) -> None:
        self._pipeline = pipeline
        self._wiring = wiring
        self._norms_refresh = timedelta(seconds=norms_refresh_s)
        self._norms_keep = timedelta(days=norms_keep_days)
        self._lock_key = f"health-scheduler:{pipeline.tables.schema}"

    async def run(self) -> None:
        """The background loop: a pass now, then one every interval, until cancelled."""
        await run_periodically(
            self.rescore_due, interval_s=self._wiring.interval_s, caught_up=self._wiring.caught_up, log=log,
            what="scheduled rescore", on_deferred=RESCORE_PASSES.labels("deferred").inc,
            on_ran=lambda seconds, report: record_rescore_pass(seconds=seconds, report=report),
            on_failed=RESCORE_PASSES.labels("failed").inc,
        )

    async def rescore_due(self, *, as_of: datetime | None = None) -> RescoreReport | None:
        """Bring every account whose latest point is before the last midnight (as of `as_of`, default
        now, less the grace) up to that midnight, but never past what its partition group has shown.
        Groups another instance's pass is working on are left to it; None when that was every group."""
        # Per group, never moved on by another group's progress (idle_after None): while a backlog is read,
        # groups advance at different paces, and an account whose events are still on their way is behind,
        # not silent. A group this instance has read to the end, with nothing new for a while, is as far as
        # the wall clock: its accounts' silence counts up to now. A group's midnight only once its watermark
        # is strictly past it: an event at that very instant on another topic may still wait in the merge.
        untils = await read_untils(
            self._wiring, self._pipeline.tables.stream_watermarks, as_of or self._pipeline.clock(),
            idle_after=None, strictly_past=True, last_midnight=lambda at: today_midnight(at, grace=self._wiring.grace))
        # New norms first: they take effect after every point this pass or a batch may have evaluated.
        reports = await locked_pass(self._wiring.engine, self._lock_key, untils, self._advance_group,
                                    first=lambda: self.refresh_norms_if_due(max(untils.values())))
        return None if reports is None else total(RescoreReport, reports)

    async def _advance_group(self, group: int | None, until: datetime) -> RescoreReport:
        async def due(session: AsyncSession, after: str) -> list[str]:
            return await due_accounts(session, self._pipeline.tables, cutoff=until, after=after,
                                      limit=self._wiring.chunk, partition=group)

        async def work(session: AsyncSession, outbox: Outbox, ids: list[str]) -> list[Advance]:
            return await self._pipeline.advance_to(session, outbox, ids, until=until)

        return await self._in_chunks(due, work)

    async def refresh_norms_if_due(self, evaluated_until: datetime) -> bool:
        """A new version of the cohort norms when the latest is older than the refresh interval, built from
        the accounts' state now and in force from the first midnight after everything evaluated so far:
        `evaluated_until` (the latest midnight this pass brings accounts to), every point stored, and every
        event applied (the watermarks, held so no batch moves past them before this commits; no other pass
        is part-way through a group while this runs, `locked_pass`). Points already scored keep
        the norms they were scored with, so the history does not depend on when the pass ran."""
        tables = self._pipeline.tables
        async with unit_of_work(self._wiring.sessions) as session:
            seen = await hold_watermarks(session, tables.stream_watermarks)
            if not seen:
                return False  # no event applied yet: no account to build norms from
            # And after every point stored: other instances' passes go by their own wall clock and quiet groups,
            # past this pass's limits and the watermarks (max over the accounts_as_of index: one lookup).
            scored = await session.scalar(sa.select(sa.func.max(tables.accounts.c.as_of)))
            effective_from = norms_effective_from(evaluated_until, *seen.values(), *([scored] if scored else []))
            latest = await latest_start(session, tables.cohort_norms)
            # Never before the latest version's start: a pass's limit can be ahead of every point (the wall
            # clock's last midnight while no group is judged yet, or for a quiet group, with no account
            # there to bring forward) and a later pass's behind it (`refresh_start`).
            effective_from = refresh_start(effective_from, latest[0] if latest else None)
            if latest is not None and effective_from - latest[0] < self._norms_refresh:
                # ... unless the book has grown by a fifth since: a new installation's first norms come
                # from its first few accounts, and a day is long to judge everyone else by them.
                sample = tables.accounts.c.norm_sample
                samples = await session.scalar(sa.select(sa.func.count()).where(
                    sample.is_not(None), sample != sa.text("'{}'::jsonb")))
                if (samples or 0) <= 1.2 * latest[1]:
                    return False
            built = await refresh_norms(session, tables, effective_from=effective_from,
                                        active_since=max(seen.values()) - timedelta(days=60), keep=self._norms_keep)
        log.info("cohort norms refreshed", extra={"version": built.version, "cohorts": sorted(built.cohorts),
                                                  "effective_from": effective_from.isoformat()})
        return True

    async def rescore_scorecard(self, segment: str) -> RescoreReport:
        """After a new version of `segment`'s scorecard: rescore the accounts it may affect, each at
        its latest point, so the change in the history is the config's alone."""
        return await self._in_chunks(
            lambda session, after: accounts_of_scorecard(session, self._pipeline.tables, segment,
                                                         after=after, limit=self._wiring.chunk),
            lambda session, outbox, ids: self._pipeline.rescore(session, outbox, ids, cause="scorecard"),
        )

    async def _in_chunks(self, next_chunk: ChunkQuery, work: ChunkWork) -> RescoreReport:
        async def counted(session: AsyncSession, outbox: Outbox, ids: list[str]) -> RescoreReport:
            advances = await work(session, outbox, ids)
            evaluations = [e for a in advances for e in a.evaluations]
            return RescoreReport(accounts=len(advances), changed=sum(1 for e in evaluations if e.changed),
                                 alerts=sum(len(e.decisions.decisions) for e in evaluations), chunks=1)

        return total(RescoreReport, await in_chunks(self._wiring.sessions, self._pipeline.tables.plumbing.outbox,
                                                    next_chunk, counted, self._wiring.on_committed))
