"""The outbox relay's claim column (exact bookkeeping of what each Kafka transaction carried), and
what pruning ``processed_events`` past its retention window needs: an index on ``processed_at``
and a tighter autovacuum (see ``shared.migrations``)."""

from __future__ import annotations

from shared.migrations import add_outbox_batch, drop_outbox_batch, drop_processed_at_index, index_processed_at

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    add_outbox_batch(schema)
    index_processed_at(schema)


def downgrade(schema: str) -> None:
    drop_processed_at_index(schema)
    drop_outbox_batch(schema)
