"""Version 3 of the built-in scorecards: `usage_decline` alerts while the usage component reads red
(below the grades' red line, 68) instead of below 50, at which it never fired on the archetype books
(docs/signal-quality.md, "Why churners were missed"). As in 0003, a segment whose latest version a
person wrote keeps it; only the segments still on a built-in version get the new one, as a new version."""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BUILT_IN = "orchard (built-in default)"

BUILT_IN_V3 = json.loads(
    "{\"enterprise\":{\"segment\":\"enterprise\",\"version\":3,\"weights\":{\"usage\":25,\"engagement\":25,\"sentim"
    "ent\":15,\"support\":10,\"relationship\":25},\"thresholds\":{\"green_enter\":82.0,\"green_exit\":77.0,\"red_en"
    "ter\":68.0,\"red_exit\":73.0},\"missing_data\":\"exclude\",\"neutral_score\":75.0,\"targets\":{\"touches_per_3"
    "0d\":4,\"engaged_contacts\":4,\"qbr_every_days\":90},\"critical_measures\":[{\"component\":\"support\",\"rule\""
    ":\"urgent_ticket_open_days\",\"threshold\":7,\"force_grade\":\"yellow\"},{\"component\":\"usage\",\"rule\":\"a"
    "ctive_users_decline_pct\",\"threshold\":50,\"force_grade\":\"red\"},{\"component\":\"relationship\",\"rule\":\""
    "champion_left_unreplaced\",\"threshold\":7,\"force_grade\":\"yellow\"},{\"component\":\"sentiment\",\"rule\":\""
    "negative_feedback_30d\",\"threshold\":3,\"force_grade\":\"yellow\"},{\"component\":\"relationship\",\"rule\":\""
    "champion_left_unreplaced\",\"threshold\":30,\"force_grade\":\"red\"}],\"alerts\":{\"cooldown_days\":30,\"renew"
    "al_critical_days\":90,\"budget\":1,\"budget_days\":182,\"grade_red\":{\"enabled\":true,\"sustain_days\":7},\"s"
    "core_drop\":{\"enabled\":false,\"sustain_days\":7,\"points\":15.0,\"within_days\":30,\"step\":10.0},\"champion"
    "_left\":{\"enabled\":true,\"sustain_days\":7},\"usage_decline\":{\"enabled\":true,\"sustain_days\":14,\"pct\":"
    "30.0,\"volume_pct\":50.0,\"max_usage_score\":68.0,\"step\":20.0},\"negative_feedback\":{\"enabled\":true,\"cou"
    "nt\":3,\"within_days\":30}}},\"mid_market\":{\"segment\":\"mid_market\",\"version\":3,\"weights\":{\"usage\":3"
    "0,\"engagement\":20,\"sentiment\":20,\"support\":15,\"relationship\":15},\"thresholds\":{\"green_enter\":82.0,"
    "\"green_exit\":77.0,\"red_enter\":68.0,\"red_exit\":73.0},\"missing_data\":\"exclude\",\"neutral_score\":75.0,"
    "\"targets\":{\"touches_per_30d\":2,\"engaged_contacts\":2,\"qbr_every_days\":120},\"critical_measures\":[{\"co"
    "mponent\":\"support\",\"rule\":\"urgent_ticket_open_days\",\"threshold\":7,\"force_grade\":\"yellow\"},{\"comp"
    "onent\":\"usage\",\"rule\":\"active_users_decline_pct\",\"threshold\":50,\"force_grade\":\"red\"},{\"component"
    "\":\"relationship\",\"rule\":\"champion_left_unreplaced\",\"threshold\":7,\"force_grade\":\"yellow\"},{\"compo"
    "nent\":\"sentiment\",\"rule\":\"negative_feedback_30d\",\"threshold\":3,\"force_grade\":\"yellow\"}],\"alerts\""
    ":{\"cooldown_days\":30,\"renewal_critical_days\":90,\"budget\":1,\"budget_days\":182,\"grade_red\":{\"enabled\""
    ":true,\"sustain_days\":7},\"score_drop\":{\"enabled\":false,\"sustain_days\":7,\"points\":15.0,\"within_days\""
    ":30,\"step\":10.0},\"champion_left\":{\"enabled\":true,\"sustain_days\":7},\"usage_decline\":{\"enabled\":true"
    ",\"sustain_days\":14,\"pct\":30.0,\"volume_pct\":50.0,\"max_usage_score\":68.0,\"step\":20.0},\"negative_feedb"
    "ack\":{\"enabled\":true,\"count\":3,\"within_days\":30}}},\"smb\":{\"segment\":\"smb\",\"version\":3,\"weights"
    "\":{\"usage\":45,\"engagement\":10,\"sentiment\":20,\"support\":15,\"relationship\":10},\"thresholds\":{\"gree"
    "n_enter\":82.0,\"green_exit\":77.0,\"red_enter\":68.0,\"red_exit\":73.0},\"missing_data\":\"exclude\",\"neutra"
    "l_score\":75.0,\"targets\":{\"touches_per_30d\":1,\"engaged_contacts\":1,\"qbr_every_days\":null},\"critical_m"
    "easures\":[{\"component\":\"support\",\"rule\":\"urgent_ticket_open_days\",\"threshold\":7,\"force_grade\":\"y"
    "ellow\"},{\"component\":\"usage\",\"rule\":\"active_users_decline_pct\",\"threshold\":50,\"force_grade\":\"red"
    "\"},{\"component\":\"relationship\",\"rule\":\"champion_left_unreplaced\",\"threshold\":7,\"force_grade\":\"ye"
    "llow\"},{\"component\":\"sentiment\",\"rule\":\"negative_feedback_30d\",\"threshold\":3,\"force_grade\":\"yell"
    "ow\"}],\"alerts\":{\"cooldown_days\":30,\"renewal_critical_days\":90,\"budget\":1,\"budget_days\":182,\"grade_"
    "red\":{\"enabled\":true,\"sustain_days\":7},\"score_drop\":{\"enabled\":false,\"sustain_days\":7,\"points\":15"
    ".0,\"within_days\":30,\"step\":10.0},\"champion_left\":{\"enabled\":true,\"sustain_days\":7},\"usage_decline\""
    ":{\"enabled\":true,\"sustain_days\":14,\"pct\":30.0,\"volume_pct\":50.0,\"max_usage_score\":68.0,\"step\":20.0"
    "},\"negative_feedback\":{\"enabled\":true,\"count\":3,\"within_days\":30}}},\"default\":{\"segment\":\"default"
    "\",\"version\":3,\"weights\":{\"usage\":30,\"engagement\":20,\"sentiment\":20,\"support\":15,\"relationship\":"
    "15},\"thresholds\":{\"green_enter\":82.0,\"green_exit\":77.0,\"red_enter\":68.0,\"red_exit\":73.0},\"missing_d"
    "ata\":\"exclude\",\"neutral_score\":75.0,\"targets\":{\"touches_per_30d\":2,\"engaged_contacts\":2,\"qbr_every"
    "_days\":null},\"critical_measures\":[{\"component\":\"support\",\"rule\":\"urgent_ticket_open_days\",\"thresho"
    "ld\":7,\"force_grade\":\"yellow\"},{\"component\":\"usage\",\"rule\":\"active_users_decline_pct\",\"threshold\""
    ":50,\"force_grade\":\"red\"},{\"component\":\"relationship\",\"rule\":\"champion_left_unreplaced\",\"threshold"
    "\":7,\"force_grade\":\"yellow\"},{\"component\":\"sentiment\",\"rule\":\"negative_feedback_30d\",\"threshold\""
    ":3,\"force_grade\":\"yellow\"}],\"alerts\":{\"cooldown_days\":30,\"renewal_critical_days\":90,\"budget\":1,\"b"
    "udget_days\":182,\"grade_red\":{\"enabled\":true,\"sustain_days\":7},\"score_drop\":{\"enabled\":false,\"susta"
    "in_days\":7,\"points\":15.0,\"within_days\":30,\"step\":10.0},\"champion_left\":{\"enabled\":true,\"sustain_da"
    "ys\":7},\"usage_decline\":{\"enabled\":true,\"sustain_days\":14,\"pct\":30.0,\"volume_pct\":50.0,\"max_usage_s"
    "core\":68.0,\"step\":20.0},\"negative_feedback\":{\"enabled\":true,\"count\":3,\"within_days\":30}}}}"
)


def upgrade(schema: str) -> None:
    # One statement: each segment whose latest version is built-in gets the next version, with v3's config.
    op.execute(sa.text(
        f'INSERT INTO "{schema}".scorecards (segment, version, config, created_by) '
        "SELECT latest.segment, latest.version + 1, "
        "jsonb_set(CAST(:configs AS jsonb) -> latest.segment, '{version}', to_jsonb(latest.version + 1)), :who "
        f'FROM (SELECT DISTINCT ON (segment) segment, version, created_by FROM "{schema}".scorecards '
        "ORDER BY segment, version DESC) AS latest "
        "WHERE latest.created_by = :who AND (CAST(:configs AS jsonb) -> latest.segment) IS NOT NULL"
    ).bindparams(configs=json.dumps(BUILT_IN_V3), who=BUILT_IN))


def downgrade(schema: str) -> None:
    # Only the versions this migration wrote: built-in rows holding the v3 gate.
    op.execute(sa.text(
        f"DELETE FROM \"{schema}\".scorecards WHERE created_by = :who AND version > 2 "
        "AND (config->'alerts'->'usage_decline'->>'max_usage_score')::float = 68.0").bindparams(who=BUILT_IN))
