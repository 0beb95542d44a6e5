"""Ingest's schema: the shared plumbing tables, tuned for a processed_events of hundreds of millions.

- An index on ``processed_at`` lets the pruner find the ids older than the dedupe window without
  scanning the table; rows arrive in time order, so it grows at its right edge only (cheap).
- Autovacuum at 1% dead rows instead of 20%: pruning deletes steadily, and at 300 M rows the
  default would let 60 M dead rows pile up (bloat, slower index scans) before a vacuum.
"""

from __future__ import annotations

from alembic import op

from shared.migrations import create_plumbing_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    create_plumbing_tables(schema)
    op.create_index("ix_processed_events_processed_at", "processed_events", ["processed_at"], schema=schema)
    op.execute(
        f'ALTER TABLE "{schema}".processed_events SET ('
        "autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.01, "
        "autovacuum_analyze_scale_factor = 0.01)"
    )


def downgrade(schema: str) -> None:
    op.drop_table("outbox", schema=schema)
    op.drop_table("processed_events", schema=schema)
