"""The dedupe window: a background loop that forgets accepted ids older than the retention.

Without it ``processed_events`` grows by every event ever accepted; with it, its size is the
ingest rate times the window, and the primary-key index that every batch probes stays the size
of the window, not of history. An id re-sent after the window is accepted again (and routed
again, with the same event_id, which downstream consumers de-duplicate).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.routing import Clock, utc_now
from services.ingest.store import prune_accepted_ids
from shared.db import unit_of_work

log = logging.getLogger(__name__)


class DedupePruner:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        processed_events: sa.Table,
        retention: timedelta,
        interval_s: float,
        batch_size: int,
        clock: Clock = utc_now,
    ) -> None:
        self._sessions = sessions
        self._processed_events = processed_events
        self._retention = retention
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._clock = clock

    async def prune_once(self) -> int:
        """Delete every id older than the window, one short transaction per batch."""
        cutoff = self._clock() - self._retention
        pruned = 0
        while True:
            async with unit_of_work(self._sessions) as session:
                deleted = await prune_accepted_ids(
                    session, self._processed_events, accepted_before=cutoff, limit=self._batch_size
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
                    log.info("pruned accepted ids past the dedupe window", extra={"pruned": pruned})
            except Exception:
                # The next pass retries; meanwhile the table only grows a little.
                log.exception("pruning accepted ids failed")
            await asyncio.sleep(self._interval_s)
