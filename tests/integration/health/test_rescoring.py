"""Rescoring without new events: the scheduled re-evaluation (silence counts) and a scorecard change."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from services.health.domain import DEFAULT_SCORECARDS, scorecard_to_json, today_midnight
from shared.passes import group_lock_key
from tests.integration.health.harness import BUILT_IN_VERSION, Health, at, healthy
from tests.services import WRITER

pytestmark = pytest.mark.integration


async def test_the_scheduled_reevaluation_catches_a_silent_account(health: Health) -> None:
    quiet, busy = healthy("quiet"), healthy("busy")
    await health.apply(quiet.events + busy.events)
    busy.usage(61, 100, 15)
    await health.apply(busy.since(0)[len(healthy("busy").events):])
    before = {r.account_id: r for r in await health.rows("SELECT account_id, score, grade, as_of FROM {s}.accounts")}
    assert before["quiet"].grade == "green" and before["quiet"].as_of < before["busy"].as_of

    rescorer = health.service.rescorer
    tick = before["busy"].as_of + timedelta(hours=1)  # busy was evaluated today; quiet 40 days ago
    midnight = today_midnight(tick, grace=timedelta(seconds=health.settings.health_midnight_grace_s))
    assert before["busy"].as_of >= midnight, "the story's last event must come after the day's midnight"
    report = await rescorer.rescore_due(as_of=tick)
    assert report is not None and report.accounts == 1, "only the account not evaluated since the last midnight"

    after = {r.account_id: r for r in await health.rows(
        "SELECT account_id, score, grade, as_of, scorecard_version FROM {s}.accounts")}
    assert after["quiet"].as_of == midnight and after["quiet"].score < before["quiet"].score - 20
    assert after["quiet"].grade != "green"
    assert after["busy"].as_of == before["busy"].as_of
    history = await health.rows("SELECT cause, as_of, reasons FROM {s}.score_history WHERE account_id = 'quiet' "
                                "AND cause = 'schedule' ORDER BY as_of")
    assert len(history) > 1 and all(h.as_of == today_midnight(h.as_of) for h in history), \
        "silence is counted at each midnight since the last event, not in one jump"
    assert any(r["component"] == "usage" and "active users fell" in r["detail"] for h in history for r in h.reasons)

    records = await health.records(health.topics.account_health, at_least=1)
    last = [r for r in records if r["account_id"] == "quiet"][-1]
    assert last["as_of"].startswith(midnight.date().isoformat()) and last["score"] == after["quiet"].score
    churn = await health.records(health.topics.churn_risk)
    assert any(r["account_id"] == "quiet" and r["type"] == "churn_risk.raised" for r in churn)

    assert (await rescorer.rescore_due(as_of=tick + timedelta(minutes=5))).accounts == 0  # type: ignore[union-attr]


async def test_a_group_another_pass_holds_is_left_to_it(health: Health) -> None:
    quiet, busy = healthy("one"), healthy("busy-one", days=90)  # busy's events take the stream to day 90
    await health.apply(quiet.in_time_order() + busy.in_time_order())
    group = group_lock_key(f"health-scheduler:{health.schema}", 0)  # the harness's accounts are all in group 0
    async with health.service.runtime.engine.connect() as other_instance:
        await other_instance.execute(sa.select(sa.func.pg_advisory_lock(sa.func.hashtext(group))))
        report = await health.service.rescorer.rescore_due(as_of=at(200))
        assert report is not None and report.accounts == 0, "group 0 left to the pass holding it"
        await other_instance.execute(sa.select(sa.func.pg_advisory_unlock(sa.func.hashtext(group))))
    report = await health.service.rescorer.rescore_due(as_of=at(200))
    assert report is not None and report.accounts == 1, "the quiet account, up to the stream's day 90, not day 200"
    quiet_now = (await health.rows("SELECT as_of FROM {s}.accounts WHERE account_id = 'one'"))[0].as_of
    assert quiet_now.date() == at(90).date()


async def test_a_groups_midnight_waits_while_its_watermark_is_at_that_very_instant(health: Health) -> None:
    """An event at the watermark's instant on another topic may still wait its turn in the merge: the
    midnight it would be late for is evaluated only once the watermark is strictly past it."""
    quiet, busy = healthy("still"), healthy("busy-still", days=90)
    await health.apply(quiet.in_time_order() + busy.in_time_order())
    grace = timedelta(seconds=health.settings.health_midnight_grace_s)
    midnight = today_midnight(at(80))
    async with health.service.runtime.engine.begin() as conn:
        await conn.execute(sa.text(f'UPDATE "{health.schema}".stream_watermarks SET event_at = :at'),
                           {"at": midnight + grace})
    report = await health.service.rescorer.rescore_due(as_of=at(200))
    assert report is not None and report.accounts == 1
    still = (await health.rows("SELECT as_of FROM {s}.accounts WHERE account_id = 'still'"))[0].as_of
    assert still == midnight - timedelta(days=1), "not the midnight the watermark has only reached"

ENTERPRISE_USAGE_ONLY = {
    "weights": {"usage": 100, "engagement": 0, "sentiment": 0, "support": 0, "relationship": 0},
    "thresholds": {"green_enter": 95, "green_exit": 90, "red_enter": 40, "red_exit": 45},
}


async def test_a_scorecard_change_rescores_its_accounts_and_the_history_records_the_version(
    health: Health,
) -> None:
    await health.apply(healthy("ent", segment="enterprise").events + healthy("small", segment="smb").events)
    before = {r.account_id: r for r in await health.rows("SELECT account_id, score, as_of FROM {s}.accounts")}

    preview = await health.http.post("/v1/scorecards/enterprise/preview", json=ENTERPRISE_USAGE_ONLY,
                                     headers=WRITER)
    assert preview.status_code == 200, preview.text
    assert preview.json()["accounts"] == 1

    reply = await health.http.put("/v1/scorecards/enterprise", json=ENTERPRISE_USAGE_ONLY, headers=WRITER)
    assert reply.status_code == 200, reply.text
    published = reply.json()
    assert published["scorecard"]["version"] == BUILT_IN_VERSION + 1
    assert published["scorecard"]["created_by"] == "writer"
    assert published["rescored_accounts"] == 1

    after = {r.account_id: r for r in await health.rows(
        "SELECT account_id, score, grade, as_of, scorecard_segment, scorecard_version FROM {s}.accounts")}
    assert (after["ent"].scorecard_segment, after["ent"].scorecard_version) == ("enterprise", BUILT_IN_VERSION + 1)
    assert after["ent"].as_of == before["ent"].as_of, "rescored at the same moment: only the config differs"
    assert after["ent"].score != before["ent"].score
    assert (after["small"].scorecard_segment, after["small"].scorecard_version) == ("smb", BUILT_IN_VERSION)
    assert preview.json()["grades_candidate"] == {after["ent"].grade: 1}

    last = (await health.rows("SELECT cause, scorecard_version, reasons FROM {s}.score_history "
                              "WHERE account_id = 'ent' ORDER BY id DESC LIMIT 1"))[0]
    assert (last.cause, last.scorecard_version) == ("scorecard", BUILT_IN_VERSION + 1)
    assert any(r["component"] == "scorecard" for r in last.reasons)
    records = await health.records(health.topics.account_health, at_least=3)
    assert [r["scorecard_version"] for r in records if r["account_id"] == "ent"][-1] == BUILT_IN_VERSION + 1

    versions = (await health.http.get("/v1/scorecards/enterprise/versions")).json()["items"]
    assert [v["version"] for v in versions] == list(range(BUILT_IN_VERSION + 1, 0, -1))
    current = {c["segment"]: c for c in (await health.http.get("/v1/scorecards")).json()["items"]}
    assert current["enterprise"]["version"] == BUILT_IN_VERSION + 1 and current["smb"]["version"] == BUILT_IN_VERSION
    assert current["enterprise"]["config"]["weights"]["usage"] == 100
    # the built-in version a fresh schema gets (the latest migration's) is the code's defaults
    assert {**current["smb"]["config"], "version": 1} == scorecard_to_json(DEFAULT_SCORECARDS["smb"])


async def test_scorecards_are_validated_and_a_preview_stores_nothing(health: Health) -> None:
    await health.apply(healthy("ent2").events)
    bad = {"weights": {"usage": -1, "vibes": 3}, "thresholds": {"green_enter": 30, "green_exit": 65,
                                                                 "red_enter": 40, "red_exit": 45}}
    reply = await health.http.put("/v1/scorecards/enterprise", json=bad, headers=WRITER)
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["code"] == "validation_error"
    locs = {d["loc"] for d in error["details"]}
    assert {"body.weights.vibes", "body.weights.usage"} <= locs and "body.thresholds" in locs

    wrong_segment = {**ENTERPRISE_USAGE_ONLY, "segment": "smb"}
    assert (await health.http.put("/v1/scorecards/enterprise", json=wrong_segment, headers=WRITER)).status_code == 422
    assert (await health.http.put("/v1/scorecards/Bad Segment", json=ENTERPRISE_USAGE_ONLY,
                                  headers=WRITER)).status_code == 422

    # Only support counts, the account has no tickets, and missing data scores zero: red for everyone.
    all_red = {"weights": {"support": 1}, "missing_data": "zero",
               "thresholds": {"green_enter": 70, "green_exit": 65, "red_enter": 40, "red_exit": 45}}
    preview = (await health.http.post("/v1/scorecards/enterprise/preview", json=all_red, headers=WRITER)).json()
    assert preview["accounts"] == 1 and preview["grade_changes"] == 1
    assert preview["changes"][0]["account_id"] == "ent2" and preview["changes"][0]["candidate_grade"] == "red"
    versions = (await health.http.get("/v1/scorecards/enterprise/versions")).json()["items"]
    assert [v["version"] for v in versions] == list(range(BUILT_IN_VERSION, 0, -1))
    assert (await health.rows("SELECT scorecard_version FROM {s}.accounts"))[0][0] == BUILT_IN_VERSION


async def test_the_scheduler_finishes_a_scorecard_rescore_that_was_interrupted(health: Health) -> None:
    await health.apply(healthy("left-behind").events)
    scored_at = (await health.rows("SELECT as_of FROM {s}.accounts"))[0].as_of
    # A new version stored by a PUT whose process died before it rescored anything:
    async with health.service.runtime.engine.begin() as conn:
        await conn.execute(sa.text(
            f'INSERT INTO "{health.schema}".scorecards (segment, version, config, created_by) '
            f"SELECT segment, version + 1, jsonb_set(config, '{{version}}', to_jsonb(version + 1)), 'test' "
            f'FROM "{health.schema}".scorecards WHERE segment = \'enterprise\' AND version = {BUILT_IN_VERSION}'))
    report = await health.service.rescorer.rescore_due(as_of=scored_at + timedelta(minutes=1))
    assert report is not None and report.accounts == 1, "not due by age, but scored with an old version"
    row = (await health.rows("SELECT scorecard_version FROM {s}.accounts"))[0]
    assert row.scorecard_version == BUILT_IN_VERSION + 1
