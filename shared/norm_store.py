"""Where a service keeps its cohort norm versions (`shared.norm_versions`): the `cohort_norms` table,
loading and saving versions, the in-process cache the hot path reads through, and a refresh's write
with the retention of old versions. The norms themselves are the service's: it passes how to encode
and decode them. Nothing here commits: the caller's unit of work does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.norm_versions import Versioned, VersionHistory, oldest_kept
from shared.tables import declare

V = TypeVar("V", bound=Versioned)
H = TypeVar("H", bound=VersionHistory[Any])


def cohort_norms_table(metadata: sa.MetaData) -> sa.Table:
    """One row per kept version: its start (event time), how many accounts it was built from, and the
    norms as JSON (`shared.norm_versions.envelope_to_json`)."""
    return declare(metadata, "cohort_norms", """
        version int primary key, effective_from timestamptz, accounts int, norms jsonb,
        built_at timestamptz default now()
    """)


async def latest_version(session: AsyncSession, table: sa.Table) -> int:
    """The highest version stored (0 without any): one lookup on the primary key."""
    return int(await session.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.version), 0))) or 0)


async def latest_start(session: AsyncSession, table: sa.Table) -> tuple[datetime, int] | None:
    """The latest version's start and how many accounts built it (None without any)."""
    row = (await session.execute(sa.select(table.c.effective_from, table.c.accounts)
                                 .order_by(table.c.version.desc()).limit(1))).first()
    return None if row is None else (row.effective_from, row.accounts)


async def load_versions(session: AsyncSession, table: sa.Table,
                        decode: Callable[[Mapping[str, Any]], V]) -> list[V]:
    """Every kept version, oldest first."""
    rows = await session.execute(sa.select(table.c.norms).order_by(table.c.version))
    return [decode(raw) for (raw,) in rows]


async def save_version(session: AsyncSession, table: sa.Table, *, version: int, effective_from: datetime,
                       accounts: int, norms: Mapping[str, Any], keep: timedelta) -> None:
    """Store a new version; versions no longer in force for `keep` are dropped (the one in force `keep`
    before the new one's start stays, so a replay of the last `keep` finds every version it needs)."""
    await session.execute(sa.insert(table).values(version=version, effective_from=effective_from,
                                                  accounts=accounts, norms=dict(norms)))
    starts = [(v, start) for v, start in await session.execute(sa.select(table.c.version, table.c.effective_from))]
    oldest = oldest_kept(starts, newest_start=effective_from, keep=keep)
    if oldest is not None:
        await session.execute(sa.delete(table).where(table.c.version < oldest))


@dataclass
class NormCache(Generic[V, H]):
    """The versions last loaded, reloaded when a new version appears. Whether one has is asked at most
    every `check_s` seconds (0: on every read): a new version takes effect from the next midnight after
    it was built (event time), so a reader that learns of it a few minutes late judges the same."""

    table: sa.Table
    decode: Callable[[Mapping[str, Any]], V]
    history: Callable[[list[V]], H]
    check_s: float = 0.0
    monotonic: Callable[[], float] = time.monotonic
    _cached: H | None = field(default=None, init=False, repr=False)
    _checked_at: float = field(default=0.0, init=False, repr=False)

    def invalidate(self) -> None:
        """Ask on the next read (this process just built a version)."""
        self._cached = None

    async def get(self, session: AsyncSession) -> H:
        now = self.monotonic()
        if self._cached is not None and self.check_s > 0 and now - self._checked_at < self.check_s:
            return self._cached
        latest = await latest_version(session, self.table)
        if self._cached is None or self._cached.latest_version != latest:
            self._cached = self.history(await load_versions(session, self.table, self.decode))
        self._checked_at = now
        return self._cached
