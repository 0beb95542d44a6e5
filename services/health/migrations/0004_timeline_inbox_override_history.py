"""The account timeline (an entry per input event other than usage, a roll-up per account, day and
feature of usage, and the usage index that keeps roll-ups idempotent and resolves evidence ids), the
alert inbox's columns (who raised an alert: health, or another service through the churn-risk
topic; snooze; assignment) and the override history."""

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
        "timeline_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("data", JSONB, nullable=False),
        schema=schema,
    )
    op.create_index("timeline_events_account", "timeline_events", ["account_id", "at", "event_id"], schema=schema)
    op.create_index("timeline_events_at", "timeline_events", ["at"], schema=schema)  # retention
    op.create_table(
        "timeline_usage",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("feature", sa.Text, primary_key=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("quantity", sa.Float, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("first_at", TZ, nullable=False),
        sa.Column("last_at", TZ, nullable=False),
        schema=schema,
    )
    op.create_index("timeline_usage_at", "timeline_usage", ["at"], schema=schema)  # retention
    op.create_table(
        "timeline_usage_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("feature", sa.Text, nullable=False),
        schema=schema,
    )
    op.create_index("timeline_usage_events_day", "timeline_usage_events", ["day"], schema=schema)  # retention

    op.add_column("alerts", sa.Column("origin", sa.Text, nullable=False, server_default="health"), schema=schema)
    op.create_check_constraint("alerts_origin", "alerts", "origin IN ('health', 'topic')", schema=schema)
    op.add_column("alerts", sa.Column("snoozed_until", TZ), schema=schema)
    op.add_column("alerts", sa.Column("snoozed_by", sa.Text), schema=schema)
    op.add_column("alerts", sa.Column("assigned_to", sa.Text), schema=schema)
    op.add_column("alerts", sa.Column("assigned_by", sa.Text), schema=schema)
    op.add_column("alerts", sa.Column("assigned_at", TZ), schema=schema)
    op.create_index("alerts_assigned", "alerts", ["assigned_to", "raised_at"], schema=schema)

    op.create_table(
        "override_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("value", JSONB),
        sa.Column("reason", sa.Text),
        sa.Column("expires_at", TZ),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.CheckConstraint("action IN ('set', 'changed', 'expired', 'removed')", name="override_history_action"),
        schema=schema,
    )
    op.create_index("override_history_account", "override_history", ["account_id", "at", "id"], schema=schema)


def downgrade(schema: str) -> None:
    op.drop_table("override_history", schema=schema)
    op.drop_index("alerts_assigned", "alerts", schema=schema)
    for column in ("assigned_at", "assigned_by", "assigned_to", "snoozed_by", "snoozed_until"):
        op.drop_column("alerts", column, schema=schema)
    op.drop_constraint("alerts_origin", "alerts", schema=schema)
    op.drop_column("alerts", "origin", schema=schema)
    for table in ("timeline_usage_events", "timeline_usage", "timeline_events"):
        op.drop_table(table, schema=schema)
