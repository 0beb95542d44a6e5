"""Forgetting processed event ids past their retention window: one pruner for every service.

Without it ``processed_events`` grows by every event ever handled; with it, its size is the event
rate times the window, and the primary-key index every batch probes stays the size of the window,
not of history. Which window each service keeps, and why forgetting after it is safe, is in
``shared.settings`` (``processed_events_retention``) and services/ingest/README.md.

Both the stamp (``processed_at``, the database's ``now()`` when the id was recorded) and the cutoff
come from the database's clock, so a skewed application clock cannot forget ids early.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import unit_of_work

log = logging.getLogger(__name__)


async def prune_processed(session: AsyncSession, table: sa.Table, *, older_than: timedelta, limit: int) -> int:
    """Forget up to ``limit`` ids recorded longer than ``older_than`` ago; returns how many went.

    Small batches keep each transaction (locks, WAL, replication lag) short on a table of hundreds
    of millions of rows. ``SKIP LOCKED`` lets several instances prune side by side without waiting
    on each other, or on a transaction that holds a row. The ``processed_at`` index finds them.
    """
    stmt = sa.text(
        f'DELETE FROM "{table.schema}"."{table.name}" WHERE ctid = ANY(ARRAY('
        f'SELECT ctid FROM "{table.schema}"."{table.name}" WHERE processed_at < now() - CAST(:window AS interval) '
        "LIMIT :limit FOR UPDATE SKIP LOCKED))"
    )
    result = await session.execute(stmt, {"window": older_than, "limit": limit})
    return int(result.rowcount)  # type: ignore[attr-defined]


class ProcessedEventsPruner:
    """A background loop: every ``interval_s``, delete the ids older than ``retention``."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        processed_events: sa.Table,
        retention: timedelta,
        interval_s: float,
        batch_size: int,
    ) -> None:
        self._sessions = sessions
        self._processed_events = processed_events
        self._retention = retention
        self._interval_s = interval_s
        self._batch_size = batch_size

    @property
    def retention(self) -> timedelta:
        return self._retention

    async def prune_once(self) -> int:
        """Delete every id older than the window, one short transaction per batch."""
        pruned = 0
        while True:
            async with unit_of_work(self._sessions) as session:
                deleted = await prune_processed(
                    session, self._processed_events, older_than=self._retention, limit=self._batch_size
                )
            pruned += deleted
            if deleted < self._batch_size:
                return pruned
            await asyncio.sleep(0)  # let requests and batches in between prune batches

    async def run(self) -> None:
        while True:
            try:
                pruned = await self.prune_once()
                if pruned:
                    log.info("pruned processed event ids past the retention window",
                             extra={"pruned": pruned, "retention_days": self._retention / timedelta(days=1)})
            except Exception:
                # The next pass retries; meanwhile the table only grows a little.
                log.exception("pruning processed event ids failed")
            await asyncio.sleep(self._interval_s)
