"""Cohort norms (where an account's usage stands among similar accounts), the stream's event-time
watermarks (how far the scheduler may count silence), and version 2 of the built-in
scorecards: usage judged per feature and against the cohort, alerts on sustained conditions with a
budget, score_drop off. A segment whose latest version a person wrote keeps it; only the segments
still on a built-in version get the new one (as a new version, so the history shows the change)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
BUILT_IN = "orchard (built-in default)"

BUILT_IN_V2 = json.loads(
    "{\"enterprise\":{\"segment\":\"enterprise\",\"version\":2,\"weights\":{\"usage\":25,\"engagement\":25,\"sentiment\":"
    "15,\"support\":10,\"relationship\":25},\"thresholds\":{\"green_enter\":82.0,\"green_exit\":77.0,\"red_enter\":68"
    ".0,\"red_exit\":73.0},\"missing_data\":\"exclude\",\"neutral_score\":75.0,\"targets\":{\"touches_per_30d\":4,\"en"
    "gaged_contacts\":4,\"qbr_every_days\":90},\"critical_measures\":[{\"component\":\"support\",\"rule\":\"urgent_ti"
    "cket_open_days\",\"threshold\":7,\"force_grade\":\"yellow\"},{\"component\":\"usage\",\"rule\":\"active_users_decl"
    "ine_pct\",\"threshold\":50,\"force_grade\":\"red\"},{\"component\":\"relationship\",\"rule\":\"champion_left_unrep"
    "laced\",\"threshold\":7,\"force_grade\":\"yellow\"},{\"component\":\"sentiment\",\"rule\":\"negative_feedback_30d\""
    ",\"threshold\":3,\"force_grade\":\"yellow\"},{\"component\":\"relationship\",\"rule\":\"champion_left_unreplaced\""
    ",\"threshold\":30,\"force_grade\":\"red\"}],\"alerts\":{\"cooldown_days\":30,\"renewal_critical_days\":90,\"budge"
    "t\":1,\"budget_days\":182,\"grade_red\":{\"enabled\":true,\"sustain_days\":7},\"score_drop\":{\"enabled\":false,\""
    "sustain_days\":7,\"points\":15.0,\"within_days\":30,\"step\":10.0},\"champion_left\":{\"enabled\":true,\"sustain"
    "_days\":7},\"usage_decline\":{\"enabled\":true,\"sustain_days\":14,\"pct\":30.0,\"volume_pct\":50.0,\"max_usage_"
    "score\":50.0,\"step\":20.0},\"negative_feedback\":{\"enabled\":true,\"count\":3,\"within_days\":30}}},\"mid_mark"
    "et\":{\"segment\":\"mid_market\",\"version\":2,\"weights\":{\"usage\":30,\"engagement\":20,\"sentiment\":20,\"suppor"
    "t\":15,\"relationship\":15},\"thresholds\":{\"green_enter\":82.0,\"green_exit\":77.0,\"red_enter\":68.0,\"red_ex"
    "it\":73.0},\"missing_data\":\"exclude\",\"neutral_score\":75.0,\"targets\":{\"touches_per_30d\":2,\"engaged_cont"
    "acts\":2,\"qbr_every_days\":120},\"critical_measures\":[{\"component\":\"support\",\"rule\":\"urgent_ticket_open"
    "_days\",\"threshold\":7,\"force_grade\":\"yellow\"},{\"component\":\"usage\",\"rule\":\"active_users_decline_pct\","
    "\"threshold\":50,\"force_grade\":\"red\"},{\"component\":\"relationship\",\"rule\":\"champion_left_unreplaced\",\"t"
    "hreshold\":7,\"force_grade\":\"yellow\"},{\"component\":\"sentiment\",\"rule\":\"negative_feedback_30d\",\"thresho"
    "ld\":3,\"force_grade\":\"yellow\"}],\"alerts\":{\"cooldown_days\":30,\"renewal_critical_days\":90,\"budget\":1,\"b"
    "udget_days\":182,\"grade_red\":{\"enabled\":true,\"sustain_days\":7},\"score_drop\":{\"enabled\":false,\"sustain"
    "_days\":7,\"points\":15.0,\"within_days\":30,\"step\":10.0},\"champion_left\":{\"enabled\":true,\"sustain_days\":"
    "7},\"usage_decline\":{\"enabled\":true,\"sustain_days\":14,\"pct\":30.0,\"volume_pct\":50.0,\"max_usage_score\":"
    "50.0,\"step\":20.0},\"negative_feedback\":{\"enabled\":true,\"count\":3,\"within_days\":30}}},\"smb\":{\"segment\""
    ":\"smb\",\"version\":2,\"weights\":{\"usage\":45,\"engagement\":10,\"sentiment\":20,\"support\":15,\"relationship\":"
    "10},\"thresholds\":{\"green_enter\":82.0,\"green_exit\":77.0,\"red_enter\":68.0,\"red_exit\":73.0},\"missing_da"
    "ta\":\"exclude\",\"neutral_score\":75.0,\"targets\":{\"touches_per_30d\":1,\"engaged_contacts\":1,\"qbr_every_da"
    "ys\":null},\"critical_measures\":[{\"component\":\"support\",\"rule\":\"urgent_ticket_open_days\",\"threshold\":7"
    ",\"force_grade\":\"yellow\"},{\"component\":\"usage\",\"rule\":\"active_users_decline_pct\",\"threshold\":50,\"forc"
    "e_grade\":\"red\"},{\"component\":\"relationship\",\"rule\":\"champion_left_unreplaced\",\"threshold\":7,\"force_g"
    "rade\":\"yellow\"},{\"component\":\"sentiment\",\"rule\":\"negative_feedback_30d\",\"threshold\":3,\"force_grade\":"
    "\"yellow\"}],\"alerts\":{\"cooldown_days\":30,\"renewal_critical_days\":90,\"budget\":1,\"budget_days\":182,\"gra"
    "de_red\":{\"enabled\":true,\"sustain_days\":7},\"score_drop\":{\"enabled\":false,\"sustain_days\":7,\"points\":15"
    ".0,\"within_days\":30,\"step\":10.0},\"champion_left\":{\"enabled\":true,\"sustain_days\":7},\"usage_decline\":{"
    "\"enabled\":true,\"sustain_days\":14,\"pct\":30.0,\"volume_pct\":50.0,\"max_usage_score\":50.0,\"step\":20.0},\"n"
    "egative_feedback\":{\"enabled\":true,\"count\":3,\"within_days\":30}}},\"default\":{\"segment\":\"default\",\"vers"
    "ion\":2,\"weights\":{\"usage\":30,\"engagement\":20,\"sentiment\":20,\"support\":15,\"relationship\":15},\"thresho"
    "lds\":{\"green_enter\":82.0,\"green_exit\":77.0,\"red_enter\":68.0,\"red_exit\":73.0},\"missing_data\":\"exclude"
    "\",\"neutral_score\":75.0,\"targets\":{\"touches_per_30d\":2,\"engaged_contacts\":2,\"qbr_every_days\":null},\"c"
    "ritical_measures\":[{\"component\":\"support\",\"rule\":\"urgent_ticket_open_days\",\"threshold\":7,\"force_grad"
    "e\":\"yellow\"},{\"component\":\"usage\",\"rule\":\"active_users_decline_pct\",\"threshold\":50,\"force_grade\":\"re"
    "d\"},{\"component\":\"relationship\",\"rule\":\"champion_left_unreplaced\",\"threshold\":7,\"force_grade\":\"yello"
    "w\"},{\"component\":\"sentiment\",\"rule\":\"negative_feedback_30d\",\"threshold\":3,\"force_grade\":\"yellow\"}],\""
    "alerts\":{\"cooldown_days\":30,\"renewal_critical_days\":90,\"budget\":1,\"budget_days\":182,\"grade_red\":{\"en"
    "abled\":true,\"sustain_days\":7},\"score_drop\":{\"enabled\":false,\"sustain_days\":7,\"points\":15.0,\"within_d"
    "ays\":30,\"step\":10.0},\"champion_left\":{\"enabled\":true,\"sustain_days\":7},\"usage_decline\":{\"enabled\":tr"
    "ue,\"sustain_days\":14,\"pct\":30.0,\"volume_pct\":50.0,\"max_usage_score\":50.0,\"step\":20.0},\"negative_feed"
    "back\":{\"enabled\":true,\"count\":3,\"within_days\":30}}}}"
)


def upgrade(schema: str) -> None:
    op.add_column("accounts", sa.Column("norm_sample", JSONB), schema=schema)
    op.add_column("accounts", sa.Column("partition", sa.Integer), schema=schema)  # its partition group
    op.create_table(
        "stream_watermarks",
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("event_at", TZ, nullable=False),
        schema=schema,
    )
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
    scorecards = sa.table("scorecards", sa.column("segment", sa.Text), sa.column("version", sa.Integer),
                          sa.column("config", JSONB), sa.column("created_by", sa.Text), schema=schema)
    latest = op.get_bind().execute(sa.text(
        f'SELECT DISTINCT ON (segment) segment, version, created_by FROM "{schema}".scorecards '
        "ORDER BY segment, version DESC")).all()
    on_built_in = {segment: version for segment, version, created_by in latest if created_by == BUILT_IN}
    rows = [{"segment": segment, "version": on_built_in[segment] + 1,
             "config": {**config, "version": on_built_in[segment] + 1}, "created_by": BUILT_IN}
            for segment, config in BUILT_IN_V2.items() if segment in on_built_in]
    if rows:
        op.bulk_insert(scorecards, rows)


def downgrade(schema: str) -> None:
    op.execute(sa.text(f"DELETE FROM \"{schema}\".scorecards WHERE created_by = :who AND version > 1")
               .bindparams(who=BUILT_IN))
    op.drop_table("cohort_norms", schema=schema)
    op.drop_table("stream_watermarks", schema=schema)
    op.drop_column("accounts", "partition", schema=schema)
    op.drop_column("accounts", "norm_sample", schema=schema)
