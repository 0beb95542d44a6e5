"""Alembic, shared by every service: one env.py here, each service's versions in its own folder.

A service's migrations live in ``services/<name>/migrations/`` and its version table lives in the
service's own schema, so services migrate independently.

A migration states its tables literally, as they were at its revision, and never builds them from
the live declarations (``shared.db``, ``shared.account_state``, the services' ``store.py``): the day
a declaration changes, a fresh database would get the new shape from the first migration and the
next migration would collide. The helpers below are part of that history and are frozen too; a new
shape is a new migration. ``tests/integration/test_migrations_match_declarations.py`` checks that
each service's chain ends at exactly its declarations.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine

HERE = Path(__file__).resolve().parent
TZ = sa.DateTime(timezone=True)


def alembic_config(*, schema: str, versions_dir: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(versions_dir))
    cfg.attributes["schema"] = schema
    return cfg


async def upgrade_to_head(engine: AsyncEngine, *, schema: str, versions_dir: Path) -> None:
    """Create the schema if needed and apply the service's migrations (idempotent).

    An advisory lock keeps several instances starting at once from racing each other.
    """
    cfg = alembic_config(schema=schema, versions_dir=versions_dir)
    async with engine.begin() as conn:
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"migrate:{schema}"})
        await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))

        def _run(sync_conn: sa.Connection) -> None:
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, "head")

        await conn.run_sync(_run)


def create_plumbing_tables(schema: str) -> None:
    """Each service's first migration: ``processed_events`` and ``outbox`` as first released, stated
    literally (frozen: ``shared.db`` declares today's shape; later columns come with later migrations,
    so a change here would rewrite history for every service)."""
    from alembic import op

    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("processed_at", TZ, nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        schema=schema,
    )


def add_outbox_batch(schema: str) -> None:
    """Each service's second migration: the relay's claim column (``shared.outbox``), and a small
    index over the claimed rows only (a handful at a time) for settling and deleting batches."""
    from alembic import op

    op.add_column("outbox", sa.Column("batch", sa.BigInteger, nullable=True), schema=schema)
    op.create_index("outbox_batch", "outbox", ["batch"], schema=schema, postgresql_where=sa.text("batch IS NOT NULL"))


def drop_outbox_batch(schema: str) -> None:
    from alembic import op

    op.drop_index("outbox_batch", "outbox", schema=schema)
    op.drop_column("outbox", "batch", schema=schema)


def index_processed_at(schema: str) -> None:
    """What pruning ``processed_events`` needs (``shared.retention``) on a table that may be large.

    - An index on ``processed_at`` finds the ids older than the window without scanning the table;
      rows arrive in time order, so it grows at its right edge only (cheap).
    - Autovacuum at 1% dead rows instead of 20%: pruning deletes steadily, and at 300 M rows the
      default would let 60 M dead rows pile up (bloat, slower index scans) before a vacuum.
    """
    from alembic import op

    op.create_index("ix_processed_events_processed_at", "processed_events", ["processed_at"], schema=schema)
    op.execute(
        f'ALTER TABLE "{schema}".processed_events SET ('
        "autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.01, "
        "autovacuum_analyze_scale_factor = 0.01)"
    )


def drop_processed_at_index(schema: str) -> None:
    from alembic import op

    op.drop_index("ix_processed_events_processed_at", "processed_events", schema=schema)
    op.execute(
        f'ALTER TABLE "{schema}".processed_events RESET ('
        "autovacuum_vacuum_scale_factor, autovacuum_vacuum_insert_scale_factor, autovacuum_analyze_scale_factor)"
    )


def create_account_state_table(schema: str, name: str = "accounts") -> None:
    """The first migration of a service that folds per-account state: the table
    ``shared.account_state`` declares, as first released, stated literally (frozen, as above)."""
    from alembic import op

    op.create_table(
        name,
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("state", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("latest_at", TZ),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
