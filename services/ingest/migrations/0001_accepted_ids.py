"""Ingest's schema: the shared plumbing tables, with ``processed_events`` tuned for hundreds of
millions of ids and steady pruning (``shared.migrations.index_processed_at`` says how and why)."""

from __future__ import annotations

from alembic import op

from shared.migrations import create_plumbing_tables, index_processed_at

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    create_plumbing_tables(schema)
    index_processed_at(schema)


def downgrade(schema: str) -> None:
    op.drop_table("outbox", schema=schema)
    op.drop_table("processed_events", schema=schema)
