"""Health schema: the shared plumbing tables, accounts, score history, versioned scorecards, alerts,
overrides; and version 1 of the built-in scorecards, so every stored score can name its version."""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from shared.migrations import create_plumbing_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)

# The built-in scorecards as they were released with this migration, frozen: a migration states its
# data literally, so a fresh database gets the same version 1 whatever the code's defaults are today.
BUILT_IN_V1 = json.loads(
    "{\"enterprise\":{\"segment\":\"enterprise\",\"version\":1,\"weights\":{\"usage\":25,\"engagement\":25,\"sentiment\":"
    "15,\"support\":10,\"relationship\":25},\"thresholds\":{\"green_enter\":70.0,\"green_exit\":65.0,\"red_enter\":40"
    ".0,\"red_exit\":45.0},\"missing_data\":\"exclude\",\"neutral_score\":50.0,\"targets\":{\"touches_per_30d\":4,\"en"
    "gaged_contacts\":4,\"qbr_every_days\":90},\"critical_measures\":[{\"component\":\"support\",\"rule\":\"urgent_ti"
    "cket_open_days\",\"threshold\":7,\"force_grade\":\"red\"},{\"component\":\"usage\",\"rule\":\"active_users_decline"
    "_pct\",\"threshold\":60,\"force_grade\":\"red\"},{\"component\":\"relationship\",\"rule\":\"champion_left_unreplac"
    "ed\",\"threshold\":30,\"force_grade\":\"red\"}],\"alerts\":{\"cooldown_days\":14,\"renewal_critical_days\":90,\"gr"
    "ade_red\":{\"enabled\":true},\"score_drop\":{\"enabled\":true,\"points\":15.0,\"within_days\":30,\"step\":10.0},\""
    "champion_left\":{\"enabled\":true},\"usage_decline\":{\"enabled\":true,\"pct\":30.0,\"step\":20.0},\"negative_fe"
    "edback\":{\"enabled\":true,\"count\":3,\"within_days\":30}}},\"mid_market\":{\"segment\":\"mid_market\",\"version\""
    ":1,\"weights\":{\"usage\":30,\"engagement\":20,\"sentiment\":20,\"support\":15,\"relationship\":15},\"thresholds\""
    ":{\"green_enter\":70.0,\"green_exit\":65.0,\"red_enter\":40.0,\"red_exit\":45.0},\"missing_data\":\"exclude\",\"n"
    "eutral_score\":50.0,\"targets\":{\"touches_per_30d\":2,\"engaged_contacts\":2,\"qbr_every_days\":120},\"critic"
    "al_measures\":[{\"component\":\"support\",\"rule\":\"urgent_ticket_open_days\",\"threshold\":7,\"force_grade\":\"r"
    "ed\"},{\"component\":\"usage\",\"rule\":\"active_users_decline_pct\",\"threshold\":60,\"force_grade\":\"red\"},{\"co"
    "mponent\":\"relationship\",\"rule\":\"champion_left_unreplaced\",\"threshold\":30,\"force_grade\":\"yellow\"}],\"a"
    "lerts\":{\"cooldown_days\":14,\"renewal_critical_days\":90,\"grade_red\":{\"enabled\":true},\"score_drop\":{\"en"
    "abled\":true,\"points\":15.0,\"within_days\":30,\"step\":10.0},\"champion_left\":{\"enabled\":true},\"usage_decl"
    "ine\":{\"enabled\":true,\"pct\":30.0,\"step\":20.0},\"negative_feedback\":{\"enabled\":true,\"count\":3,\"within_d"
    "ays\":30}}},\"smb\":{\"segment\":\"smb\",\"version\":1,\"weights\":{\"usage\":45,\"engagement\":10,\"sentiment\":20,\""
    "support\":15,\"relationship\":10},\"thresholds\":{\"green_enter\":70.0,\"green_exit\":65.0,\"red_enter\":40.0,\""
    "red_exit\":45.0},\"missing_data\":\"exclude\",\"neutral_score\":50.0,\"targets\":{\"touches_per_30d\":1,\"engage"
    "d_contacts\":1,\"qbr_every_days\":null},\"critical_measures\":[{\"component\":\"support\",\"rule\":\"urgent_tick"
    "et_open_days\",\"threshold\":7,\"force_grade\":\"red\"},{\"component\":\"usage\",\"rule\":\"active_users_decline_p"
    "ct\",\"threshold\":60,\"force_grade\":\"red\"}],\"alerts\":{\"cooldown_days\":14,\"renewal_critical_days\":90,\"gr"
    "ade_red\":{\"enabled\":true},\"score_drop\":{\"enabled\":true,\"points\":15.0,\"within_days\":30,\"step\":10.0},\""
    "champion_left\":{\"enabled\":true},\"usage_decline\":{\"enabled\":true,\"pct\":30.0,\"step\":20.0},\"negative_fe"
    "edback\":{\"enabled\":true,\"count\":3,\"within_days\":30}}},\"default\":{\"segment\":\"default\",\"version\":1,\"we"
    "ights\":{\"usage\":30,\"engagement\":20,\"sentiment\":20,\"support\":15,\"relationship\":15},\"thresholds\":{\"gre"
    "en_enter\":70.0,\"green_exit\":65.0,\"red_enter\":40.0,\"red_exit\":45.0},\"missing_data\":\"exclude\",\"neutral"
    "_score\":50.0,\"targets\":{\"touches_per_30d\":2,\"engaged_contacts\":2,\"qbr_every_days\":null},\"critical_me"
    "asures\":[{\"component\":\"support\",\"rule\":\"urgent_ticket_open_days\",\"threshold\":7,\"force_grade\":\"red\"},"
    "{\"component\":\"usage\",\"rule\":\"active_users_decline_pct\",\"threshold\":60,\"force_grade\":\"red\"}],\"alerts\""
    ":{\"cooldown_days\":14,\"renewal_critical_days\":90,\"grade_red\":{\"enabled\":true},\"score_drop\":{\"enabled\""
    ":true,\"points\":15.0,\"within_days\":30,\"step\":10.0},\"champion_left\":{\"enabled\":true},\"usage_decline\":{"
    "\"enabled\":true,\"pct\":30.0,\"step\":20.0},\"negative_feedback\":{\"enabled\":true,\"count\":3,\"within_days\":3"
    "0}}}}"
)


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
        {"segment": segment, "version": 1, "config": config, "created_by": "orchard (built-in default)"}
        for segment, config in BUILT_IN_V1.items()
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
