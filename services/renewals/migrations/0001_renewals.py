"""Renewals schema: the shared plumbing tables, accounts (contract events and latest health),
renewals (one per contract term, with people's stage, owner and notes) and arr_spans (ARR over
time, for retention)."""

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
        "renewals",
        sa.Column("renewal_id", sa.Text, primary_key=True),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("contract_id", sa.Text, nullable=False),
        sa.Column("term_start", sa.Date, nullable=False),
        sa.Column("renewal_date", sa.Date, nullable=False),
        sa.Column("arr", sa.Numeric, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("seats", sa.Integer, nullable=False),
        sa.Column("products", JSONB, nullable=False),
        sa.Column("auto_renew", sa.Boolean, nullable=False),
        sa.Column("segment", sa.Text),
        sa.Column("stage", sa.Text, nullable=False, server_default="open"),
        sa.Column("owner", sa.Text),
        sa.Column("notes", sa.Text),
        sa.Column("risk", sa.Text, nullable=False),
        sa.Column("risk_reasons", JSONB, nullable=False),
        sa.Column("health_score", sa.Float),
        sa.Column("health_grade", sa.Text),
        sa.Column("alert_severity", sa.Text),
        sa.Column("alert_episode", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("stage IN ('open', 'in_progress', 'committed', 'renewed', 'churned')",
                           name="renewals_stage"),
        sa.CheckConstraint("risk IN ('low', 'medium', 'high', 'critical')", name="renewals_risk"),
        schema=schema,
    )
    # Lists are ordered by (renewal_date, renewal_id); per account, by the same.
    op.create_index("renewals_listing", "renewals", ["renewal_date", "renewal_id"], schema=schema)
    op.create_index("renewals_account", "renewals", ["account_id", "renewal_date"], schema=schema)
    op.create_table(
        "arr_spans",
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("contract_id", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("arr", sa.Numeric, nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=False),
        schema=schema,
    )
    op.create_index("arr_spans_account", "arr_spans", ["account_id"], schema=schema)
    op.create_index("arr_spans_dates", "arr_spans", ["valid_from", "valid_to"], schema=schema)


def downgrade(schema: str) -> None:
    for table in ("arr_spans", "renewals", "accounts", "outbox", "processed_events"):
        op.drop_table(table, schema=schema)
