"""Test service schema: the shared plumbing tables plus one counter table."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.migrations import create_plumbing_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    create_plumbing_tables(schema)
    op.create_table(
        "account_counts",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("events", sa.BigInteger, nullable=False),
        schema=schema,
    )


def downgrade(schema: str) -> None:
    op.drop_table("account_counts", schema=schema)
