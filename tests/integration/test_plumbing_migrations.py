"""Every service's schema moves from its first migration to the relay's claim column and the
pruning index with its pending rows intact, and back."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.migrations import alembic_config
from tests.infra import REPO

pytestmark = pytest.mark.integration


async def _migrate(engine: AsyncEngine, schema: str, service: str, step: str, revision: str) -> None:
    cfg = alembic_config(schema=schema, versions_dir=REPO / "services" / service / "migrations")
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))

        def run(sync_conn: sa.Connection) -> None:
            cfg.attributes["connection"] = sync_conn
            getattr(command, step)(cfg, revision)

        await conn.run_sync(run)


async def _shape(engine: AsyncEngine, schema: str) -> tuple[set[str], set[str]]:
    async with engine.connect() as conn:
        columns = set((await conn.scalars(sa.text(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = :s AND table_name = 'outbox'"
        ), {"s": schema})).all())
        indexes = set((await conn.scalars(sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = :s"),
                                          {"s": schema})).all())
    return columns, indexes


@pytest.mark.parametrize("service", ["ingest", "health", "renewals", "expansion"])
async def test_a_first_release_schema_upgrades_with_its_pending_outbox_rows_and_downgrades(
    engine: AsyncEngine, schema: str, service: str
) -> None:
    await _migrate(engine, schema, service, "upgrade", "0001")
    columns, _ = await _shape(engine, schema)
    assert "batch" not in columns, "the first migration keeps the tables as first released"
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'INSERT INTO "{schema}".outbox (topic, key, event_id, value) '
                                   "VALUES ('t', 'k', 'pending-1', 'x')"))

    await _migrate(engine, schema, service, "upgrade", "head")
    columns, indexes = await _shape(engine, schema)
    assert "batch" in columns and {"outbox_batch", "ix_processed_events_processed_at"} <= indexes
    async with engine.connect() as conn:
        pending = (await conn.execute(sa.text(f'SELECT event_id, batch FROM "{schema}".outbox'))).all()
    assert [tuple(row) for row in pending] == [("pending-1", None)], "unclaimed: the relay will send it"

    await _migrate(engine, schema, service, "downgrade", "0001")
    columns, indexes = await _shape(engine, schema)
    assert "batch" not in columns and "outbox_batch" not in indexes
    await _migrate(engine, schema, service, "upgrade", "head")
