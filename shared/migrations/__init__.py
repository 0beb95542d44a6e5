"""Alembic, shared by every service: one env.py here, each service's versions in its own folder.

A service's migrations live in ``services/<name>/migrations/`` and its version table lives in the
service's own schema, so services migrate independently.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

HERE = Path(__file__).resolve().parent


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
    """Used by each service's first migration: the shared tables, declared once in ``shared.db``, as
    they were first released (later columns come with the service's later migrations)."""
    from alembic import op

    from shared.db import plumbing_tables

    tables = plumbing_tables(sa.MetaData(schema=schema), outbox_batch=False)
    for table in (tables.processed_events, tables.outbox):
        table.create(bind=op.get_bind())


def add_outbox_batch(schema: str) -> None:
    """Each service's second migration: the relay's claim column (``shared.outbox``), and a small
    index over the claimed rows only (a handful at a time) for settling and deleting batches."""
    from alembic import op

    from shared.db import outbox_batch_column

    op.add_column("outbox", outbox_batch_column(), schema=schema)
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
    """Used by the first migration of a service that folds per-account state (``shared.account_state``)."""
    from alembic import op

    from shared.account_state import account_state_table

    account_state_table(sa.MetaData(schema=schema), name).create(bind=op.get_bind())
