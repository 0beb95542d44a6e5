"""Expansion schema: the shared plumbing tables, accounts (folded signals) and opportunities."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from shared.migrations import create_account_state_table, create_plumbing_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade(schema: str) -> None:
    create_plumbing_tables(schema)
    create_account_state_table(schema)
    op.create_table(
        "opportunities",
        sa.Column("opportunity_id", sa.Text, primary_key=True),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("product", sa.Text, nullable=False),
        sa.Column("episode", sa.Integer, nullable=False),
        sa.Column("stage", sa.Text, nullable=False, server_default="open"),
        sa.Column("owner", sa.Text),
        sa.Column("notes", sa.Text),
        sa.Column("estimated_arr_uplift", sa.Numeric, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("evidence", JSONB, nullable=False),
        sa.Column("as_of", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("closed_at", TZ),
        sa.CheckConstraint(
            "stage IN ('open', 'qualified', 'proposed', 'won', 'lost', 'dismissed')", name="opportunities_stage"
        ),
        sa.CheckConstraint("confidence >= 0 AND confidence <= 1", name="opportunities_confidence"),
        schema=schema,
    )
    # The handler's "latest episode per (kind, product)" lookup, and a second guard against doubles.
    op.create_index("opportunities_episode", "opportunities", ["account_id", "kind", "product", "episode"],
                    unique=True, schema=schema)
    # Keyset pagination of the lists: newest first, (created_at, opportunity_id); with the filters.
    op.create_index("opportunities_listing", "opportunities", ["created_at", "opportunity_id"], schema=schema)
    op.create_index("opportunities_stage", "opportunities", ["stage", "created_at", "opportunity_id"], schema=schema)
    op.create_index("opportunities_kind", "opportunities", ["kind", "created_at", "opportunity_id"], schema=schema)
    op.create_index("opportunities_account", "opportunities", ["account_id", "created_at", "opportunity_id"],
                    schema=schema)


def downgrade(schema: str) -> None:
    for table in ("opportunities", "accounts", "outbox", "processed_events"):
        op.drop_table(table, schema=schema)
