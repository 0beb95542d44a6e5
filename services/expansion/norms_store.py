"""The expansion service's cohort norms, kept live: a refresh pass that builds a new version from every
stored account's state (`domain.norm_samples`) on a schedule, and the cache the batch handler reads the
versions through. Storage, versions and retention are `shared.norm_store` / `shared.norm_versions`, as
for health.

A version built now is in force from the first midnight after every event applied so far (the stream
watermarks, held while it is built so no batch moves past them meanwhile), so events already judged
keep the norms they were judged with and a replay judges every event with the version a live run had
in force at its time. The handler moves the watermarks before it reads the norms (as health's does).
Other instances learn of a new version within `check_s`; only a version whose start comes sooner than
that after it was built (a stream within minutes of midnight in event time) can meet a batch that has
not seen it yet.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.expansion.domain import CohortNorms, NormsHistory, Thresholds, norms_from_json, norms_to_json
from services.expansion.domain.codec import signals_from_json
from services.expansion.domain.norm_samples import NormSample, norm_sample, norms_from_samples
from services.expansion.store import ExpansionTables
from shared.days import day_number
from shared.db import qualified, unit_of_work
from shared.norm_store import NormCache, latest_start, latest_version, save_version
from shared.norm_versions import effective_from_after, refresh_start
from shared.passes import run_periodically
from shared.watermarks import hold_watermarks

log = logging.getLogger(__name__)

CHUNK = 1000
"""Accounts decoded per query while sampling (the states are JSON of a few kilobytes each)."""


@dataclass(frozen=True)
class NormsRefreshed:
    """What a refresh built (logged by the loop)."""

    version: int
    accounts: int
    effective_from: str


@dataclass
class ExpansionNorms:
    tables: ExpansionTables
    sessions: async_sessionmaker[AsyncSession]
    thresholds: Thresholds
    check_s: float = 300.0
    refresh_s: float = 86_400.0
    """0: never refreshed (the stored versions, if any, are still read)."""
    keep_days: int = 400
    cache: NormCache[CohortNorms, NormsHistory] = field(init=False)

    def __post_init__(self) -> None:
        self.cache = NormCache(self.tables.cohort_norms, norms_from_json, NormsHistory, check_s=self.check_s)

    async def history(self, session: AsyncSession) -> NormsHistory:
        """The versions, from the cache (asking whether a new one exists at most every `check_s`)."""
        return await self.cache.get(session)

    async def run(self, caught_up: Callable[[], bool]) -> None:
        """The background loop: a refresh when due, checked every `check_s`, until cancelled (the service
        runs none when `refresh_s` is 0)."""
        await run_periodically(self.refresh_if_due, interval_s=max(self.check_s, 1.0), caught_up=caught_up, log=log,
                               what="cohort norms refresh")

    async def refresh_if_due(self) -> NormsRefreshed | None:
        """A new version when the latest starts `refresh_s` or more before a version built now would; None
        when not due (or no event applied yet)."""
        table = self.tables.cohort_norms
        async with unit_of_work(self.sessions) as session:
            seen = await hold_watermarks(session, self.tables.stream_watermarks)
            if not seen:
                return None
            latest = await latest_start(session, table)
            effective_from = refresh_start(effective_from_after(*seen.values()), latest[0] if latest else None)
            if latest is not None and effective_from - latest[0] < timedelta(seconds=self.refresh_s):
                return None
            day = day_number(effective_from)
            samples = [s async for s in self._samples(session, day)]
            version = await latest_version(session, table) + 1
            norms = norms_from_samples(samples, version=version, effective_from=effective_from)
            await save_version(session, table, version=version, effective_from=effective_from, accounts=len(samples),
                               norms=norms_to_json(norms), keep=timedelta(days=self.keep_days))
        self.cache.invalidate()
        return NormsRefreshed(version, len(samples), effective_from.isoformat())

    async def _samples(self, session: AsyncSession, day: int) -> AsyncIterator[NormSample]:
        """Every stored account's sample as of `day`'s start, read in chunks in account order."""
        after = ""
        while True:
            rows = (await session.execute(sa.text(
                f"SELECT account_id, state::text FROM {qualified(self.tables.accounts)} "
                "WHERE account_id > :after ORDER BY account_id LIMIT :limit"), {"after": after, "limit": CHUNK})).all()
            for _, state in rows:
                sample = norm_sample(signals_from_json(orjson.loads(state)), day=day,
                                     min_baseline_days=self.thresholds.usage_growth_min_baseline_days)
                if sample is not None:
                    yield sample
            if len(rows) < CHUNK:
                return
            after = rows[-1][0]
