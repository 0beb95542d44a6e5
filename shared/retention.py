"""Forgetting rows past their retention window: one pruner for every service and every table.

The first use is processed event ids: without it ``processed_events`` grows by every event ever
handled; with it, its size is the event rate times the window, and the primary-key index every batch
probes stays the size of the window, not of history. Which window each service keeps, and why
forgetting after it is safe, is in ``shared.settings`` (``processed_events_retention``) and
services/ingest/README.md. A service adds its own rules (``RetentionRule``: a table, the timestamp or
date column it is aged by, a window), as health does for its account timeline.

The cutoff comes from the database's clock (as does ``processed_at``, the database's ``now()`` when
the id was recorded), so a skewed application clock cannot forget rows early.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import unit_of_work

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionRule:
    """Rows of `table` whose `column` (a timestamp or a date) is older than `retention` go."""

    table: sa.Table
    column: str
    retention: timedelta


async def prune_older(session: AsyncSession, rule: RetentionRule, *, limit: int) -> int:
    """Forget up to ``limit`` rows past the rule's window; returns how many went.

    Small batches keep each transaction (locks, WAL, replication lag) short on a table of hundreds
    of millions of rows. ``SKIP LOCKED`` lets several instances prune side by side without waiting
    on each other, or on a transaction that holds a row. An index on the column finds them.
    """
    table, column = rule.table, rule.column
    stmt = sa.text(
        f'DELETE FROM "{table.schema}"."{table.name}" WHERE ctid = ANY(ARRAY('
        f'SELECT ctid FROM "{table.schema}"."{table.name}" WHERE "{column}" < now() - CAST(:window AS interval) '
        "LIMIT :limit FOR UPDATE SKIP LOCKED))"
    )
    result = await session.execute(stmt, {"window": rule.retention, "limit": limit})
    return int(result.rowcount)  # type: ignore[attr-defined]


async def prune_processed(session: AsyncSession, table: sa.Table, *, older_than: timedelta, limit: int) -> int:
    """Forget up to ``limit`` processed event ids recorded longer than ``older_than`` ago."""
    return await prune_older(session, RetentionRule(table, "processed_at", older_than), limit=limit)


class RetentionPruner:
    """A background loop: every ``interval_s``, delete what each rule says is past its window."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        rules: Sequence[RetentionRule],
        interval_s: float,
        batch_size: int,
    ) -> None:
        self._sessions = sessions
        self._rules = tuple(rules)
        self._interval_s = interval_s
        self._batch_size = batch_size

    @property
    def rules(self) -> tuple[RetentionRule, ...]:
        return self._rules

    async def prune_once(self) -> int:
        """Delete every row older than its window, one short transaction per batch."""
        pruned = 0
        for rule in self._rules:
            while True:
                async with unit_of_work(self._sessions) as session:
                    deleted = await prune_older(session, rule, limit=self._batch_size)
                pruned += deleted
                if deleted < self._batch_size:
                    break
                await asyncio.sleep(0)  # let requests and batches in between prune batches
        return pruned

    async def run(self) -> None:
        while True:
            try:
                pruned = await self.prune_once()
                if pruned:
                    log.info("pruned rows past their retention window",
                             extra={"pruned": pruned, "tables": [r.table.name for r in self._rules]})
            except Exception:
                # The next pass retries; meanwhile the tables only grow a little.
                log.exception("pruning past the retention window failed",
                              extra={"tables": [r.table.name for r in self._rules]})
            await asyncio.sleep(self._interval_s)


class ProcessedEventsPruner(RetentionPruner):
    """The pruner of ``processed_events``, which every service's runtime runs."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        processed_events: sa.Table,
        retention: timedelta,
        interval_s: float,
        batch_size: int,
    ) -> None:
        super().__init__(sessions=sessions, rules=[RetentionRule(processed_events, "processed_at", retention)],
                         interval_s=interval_s, batch_size=batch_size)

    @property
    def retention(self) -> timedelta:
        return self.rules[0].retention
