"""Database plumbing: the async engine, the unit of work, and the tables every service has.

Each service owns one Postgres schema. Inside it, two tables are the same everywhere and are
defined once here: ``processed_events`` (idempotency: one row per event id a consumer has
handled, written in the same transaction as the state change) and ``outbox`` (events to publish,
written in that same transaction and relayed to Kafka afterwards).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from ssl import SSLContext
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

Record = sa.Row[*tuple[Any, ...]]
"""A result row of any shape (SQLAlchemy 2.1 types rows by their columns): what the API's queries return."""


def create_engine(
    dsn: str, *, pool_size: int = 10, application_name: str = "orchard", ssl: SSLContext | str | None = None
) -> AsyncEngine:
    """`ssl`: asyncpg's TLS mode or context (``DatabaseTls.connect_ssl()``); None keeps asyncpg's default."""
    tls = {} if ssl is None else {"ssl": ssl}
    return create_async_engine(
        dsn,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # JSONB columns carry per-account state on the hot path: orjson is several times faster.
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"server_settings": {"application_name": application_name}, **tls},
    )


def _json_dumps(value: object) -> str:
    return orjson.dumps(value, default=_decimal_as_str, option=orjson.OPT_NON_STR_KEYS).decode()


def _decimal_as_str(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)  # money stays exact
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction: commits when the block ends normally, rolls back on any exception.

    Repositories and handlers never commit; only this does.
    """
    async with sessions() as session, session.begin():
        yield session


@dataclass(frozen=True)
class PlumbingTables:
    """The idempotency and outbox tables of one service schema."""

    schema: str
    processed_events: sa.Table
    outbox: sa.Table


def plumbing_tables(metadata: sa.MetaData, *, outbox_batch: bool = True) -> PlumbingTables:
    """Declare ``processed_events`` and ``outbox`` in a service's metadata (its schema).

    ``outbox.batch`` is the relay's claim: the number of the Kafka transaction a row was taken into
    (null until then; see ``shared.outbox``). Services' first migrations create the tables as first
    released (``outbox_batch=False``) and a later one adds the column (``shared.migrations``).
    """
    if metadata.schema is None:
        raise ValueError("a service's MetaData must name its schema")
    processed = sa.Table(
        "processed_events",
        metadata,
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        *([outbox_batch_column()] if outbox_batch else []),
    )
    return PlumbingTables(schema=metadata.schema, processed_events=processed, outbox=outbox)


def qualified(table: sa.Table) -> str:
    """The table's schema-qualified, quoted name, for the statements written as SQL text."""
    return f'"{table.schema}"."{table.name}"'


def json_text(value: Any) -> str:
    """A JSON value as text, for a JSONB column fed by an unnest statement (``CAST(... AS jsonb)``)."""
    return orjson.dumps(value).decode()


def columns(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Rows as one list per column: the parameters of a set-based statement that unnests them (one
    round trip for the batch, whatever its size)."""
    by_column: dict[str, list[Any]] = {}
    for row in rows:
        for key, value in row.items():
            by_column.setdefault(key, []).append(value)
    return by_column


def outbox_batch_column() -> sa.Column[int]:
    return sa.Column("batch", sa.BigInteger, nullable=True)


async def record_processed(session: AsyncSession, table: sa.Table, event_ids: Sequence[str]) -> set[str]:
    """Insert event ids; return those that were new. One statement for the whole batch.

    The primary key does the de-duplication (no check-then-insert race): a concurrent
    transaction inserting the same id waits for ours and then sees a conflict.
    """
    if not event_ids:
        return set()
    stmt = sa.text(
        f"INSERT INTO {qualified(table)} (event_id) "
        "SELECT unnest(CAST(:ids AS text[])) ON CONFLICT DO NOTHING RETURNING event_id"
    )
    result = await session.execute(stmt, {"ids": list(event_ids)})
    return {row[0] for row in result}


async def forget_processed(session: AsyncSession, table: sa.Table, event_ids: Sequence[str]) -> None:
    """Delete event ids recorded earlier in the same transaction (one statement)."""
    if event_ids:
        await session.execute(
            sa.text(f"DELETE FROM {qualified(table)} WHERE event_id = ANY(CAST(:ids AS text[]))"),
            {"ids": list(event_ids)},
        )


async def ping(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        return True
    except Exception:
        return False
