"""The outbox relay's claim column: exact bookkeeping of what each Kafka transaction carried
(``shared.outbox``). ``processed_events`` already has what pruning needs (0001)."""

from __future__ import annotations

from shared.migrations import add_outbox_batch, drop_outbox_batch

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    add_outbox_batch(schema)


def downgrade(schema: str) -> None:
    drop_outbox_batch(schema)
