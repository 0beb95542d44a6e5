"""Cohort norms kept by the service (`services/expansion/norms_store.py`): one row per version, in
force from its `effective_from` (event time), and the stream's event-time watermarks a version's start
is set after. Frozen: the tables are stated literally, as first released."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade(schema: str) -> None:
    op.create_table(
        "cohort_norms",
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("effective_from", TZ, nullable=False),
        sa.Column("accounts", sa.Integer, nullable=False),
        sa.Column("norms", JSONB, nullable=False),
        sa.Column("built_at", TZ, nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    op.create_index("cohort_norms_effective", "cohort_norms", ["effective_from"], schema=schema)
    op.create_table(
        "stream_watermarks",
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("event_at", TZ, nullable=False),
        schema=schema,
    )


def downgrade(schema: str) -> None:
    op.drop_table("stream_watermarks", schema=schema)
    op.drop_table("cohort_norms", schema=schema)
