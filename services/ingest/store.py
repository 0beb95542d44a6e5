"""Ingest's tables and queries. Ingest keeps no state of its own beyond the shared plumbing tables:
``processed_events`` is the record of every event id accepted (by HTTP or from the raw topic), so
an id accepted one way is a duplicate the other way; ``outbox`` carries the raw topic's events to
their canonical topics. Nothing here commits.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import PlumbingTables, plumbing_tables


def ingest_tables(schema: str) -> PlumbingTables:
    return plumbing_tables(sa.MetaData(schema=schema))


async def prune_accepted_ids(session: AsyncSession, table: sa.Table, *, accepted_before: datetime, limit: int) -> int:
    """Forget up to ``limit`` ids accepted before the cutoff; returns how many went.

    Small batches keep each transaction (locks, WAL, replication lag) short on a table of hundreds
    of millions of rows. ``SKIP LOCKED`` lets several instances prune side by side without waiting
    on each other, or on an ingest transaction that holds a row.
    """
    stmt = sa.text(
        f'DELETE FROM "{table.schema}"."{table.name}" WHERE ctid = ANY(ARRAY('
        f'SELECT ctid FROM "{table.schema}"."{table.name}" WHERE processed_at < :cutoff '
        "LIMIT :limit FOR UPDATE SKIP LOCKED))"
    )
    result = await session.execute(stmt, {"cutoff": accepted_before, "limit": limit})
    return int(result.rowcount)  # type: ignore[attr-defined]
