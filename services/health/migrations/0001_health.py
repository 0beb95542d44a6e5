"""Health schema: the shared plumbing tables, accounts, score history, versioned scorecards, alerts,
overrides; and version 1 of the built-in scorecards, so every stored score can name its version."""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from services.health.domain import DEFAULT_SCORECARDS, scorecard_to_json
from shared.migrations import create_plumbing_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade(schema: str) -> None:
    create_plumbing_tables(schema)
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("segment", sa.Text),
        sa.Column("signals", JSONB, nullable=False),
        sa.Column("health", JSONB),
        sa.Column("score", sa.Float),
        sa.Column("grade", sa.Text),
        sa.Column("scorecard_segment", sa.Text),
        sa.Column("scorecard_version", sa.Integer),
        sa.Column("as_of", TZ),
        sa.Column("arr", sa.Numeric),
        sa.Column("currency", sa.Text),
        sa.Column("renewal_date", sa.Date),
        sa.Column("last_event_at", TZ),
        sa.Column("alert_state", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("recent_scores", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("scored_at", TZ, nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    # Keyset pagination of the list endpoint: every sort is (column, account_id).
    for column in ("score", "arr", "renewal_date"):
        op.create_index(f"accounts_{column}_key", "accounts", [column, "account_id"], schema=schema)
    op.create_index("accounts_grade", "accounts", ["grade"], schema=schema)
    op.create_index("accounts_segment", "accounts", ["segment"], schema=schema)
    op.create_index("accounts_as_of", "accounts", ["as_of"], schema=schema)  # the scheduler's due scan

    op.create_table(
        "score_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("as_of", TZ, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("grade", sa.Text, nullable=False),
        sa.Column("previous_score", sa.Float),
        sa.Column("previous_grade", sa.Text),
        sa.Column("components", JSONB, nullable=False),
        sa.Column("component_deltas", JSONB, nullable=False),
        sa.Column("reasons", JSONB, nullable=False),
        sa.Column("scorecard_segment", sa.Text, nullable=False),
        sa.Column("scorecard_version", sa.Integer, nullable=False),
        sa.Column("cause", sa.Text, nullable=False),
        sa.Column("recorded_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("cause IN ('event', 'schedule', 'scorecard')", name="score_history_cause"),
        schema=schema,
    )
    op.create_index("score_history_account", "score_history", ["account_id", "as_of", "id"], schema=schema)

    scorecards = op.create_table(
        "scorecards",
        sa.Column("segment", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("config", JSONB, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    assert scorecards is not None
    op.bulk_insert(scorecards, [
        {"segment": segment, "version": 1, "config": orjson.loads(orjson.dumps(scorecard_to_json(card))),
         "created_by": "orchard (built-in default)"}
        for segment, card in DEFAULT_SCORECARDS.items()
    ])

    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.Text, primary_key=True),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("episode_start", TZ, nullable=False),
        sa.Column("raised_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("resolved_at", TZ),
        sa.Column("acknowledged_by", sa.Text),
        sa.Column("acknowledged_at", TZ),
        sa.Column("acknowledged_note", sa.Text),
        sa.Column("last_event_id", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.CheckConstraint("status IN ('open', 'resolved')", name="alerts_status"),
        schema=schema,
    )
    op.create_index("alerts_listing", "alerts", ["raised_at", "alert_id"], schema=schema)
    op.create_index("alerts_status", "alerts", ["status", "raised_at"], schema=schema)
    op.create_index("alerts_account", "alerts", ["account_id", "raised_at"], schema=schema)

    op.create_table(
        "overrides",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("value", JSONB, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("set_by", sa.Text, nullable=False),
        sa.Column("set_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        schema=schema,
    )


def downgrade(schema: str) -> None:
    for table in ("overrides", "alerts", "scorecards", "score_history", "accounts", "outbox", "processed_events"):
        op.drop_table(table, schema=schema)
