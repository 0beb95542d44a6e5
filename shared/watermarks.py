"""How far a consumer's stream has got, per partition group (an account's events sit on the same partition
number of every topic): the latest event time applied there. Services whose scheduled passes judge
silence or the calendar never judge a group past it (see services/health/scheduler.py and
services/renewals/scheduler.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


def stream_watermarks_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "stream_watermarks", metadata,
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
    )


async def read_watermarks(session: AsyncSession, table: sa.Table) -> dict[int, datetime]:
    """Per partition group, the latest event time applied; empty before any event."""
    rows = (await session.execute(sa.select(table.c.partition, table.c.event_at))).all()
    return {group: at for group, at in rows}


async def hold_watermarks(session: AsyncSession, table: sa.Table) -> dict[int, datetime]:
    """The watermarks, with every batch that would move one kept waiting until this transaction ends
    (and those moving one now waited for): what is decided in it from "how far the stream has got"
    holds until it commits. The lock conflicts with the row-exclusive lock `advance_watermarks` takes, not
    with itself or with plain reads."""
    await session.execute(sa.text(f'LOCK TABLE "{table.schema}"."{table.name}" IN SHARE ROW EXCLUSIVE MODE'))
    return await read_watermarks(session, table)


async def advance_watermarks(session: AsyncSession, table: sa.Table, latest: Mapping[int, datetime]) -> None:
    """Record the latest event time seen per partition group, in one statement (it only moves forward)."""
    if not latest:
        return
    statement = insert(table).values([{"partition": g, "event_at": latest[g]} for g in sorted(latest)])
    await session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.partition],
        set_={"event_at": sa.func.greatest(table.c.event_at, statement.excluded.event_at)}))
