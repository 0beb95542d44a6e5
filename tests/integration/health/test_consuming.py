"""Events in through the real canonical topics; scores, history and alerts in Postgres; account-health
and churn-risk records out on the real output topics; each alert once across a worker's SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from tests.infra import REPO, Infra
from tests.integration.health.harness import (
    BUILT_IN_VERSION,
    Story,
    healthy,
    running,
    settings_env,
    settings_for,
)
from tests.kafka_utils import QUICK_GROUP_TIMEOUTS, committed_offsets, wait_for

pytestmark = pytest.mark.integration


async def test_events_in_score_and_history_in_the_db_health_and_churn_risk_records_out(
    infra: Infra, schema: str, unique: str
) -> None:
    steady = healthy(f"steady-{unique}")
    leaving = healthy(f"leaving-{unique}")
    departure = leaving.contact(50, "c0", "champion", change="left")  # unreplaced for over a week by the end
    events = steady.in_time_order() + leaving.in_time_order()
    async with running(settings_for(infra, schema=schema, unique=unique), consume=True) as health:
        await health.produce(events)
        await wait_for(lambda: health.applied(len(events)), timeout=60, what="every event applied")
        accounts = {r.account_id: r for r in await health.rows(
            "SELECT account_id, score, grade, scorecard_segment, scorecard_version, as_of, arr, renewal_date "
            "FROM {s}.accounts")}
        assert set(accounts) == {steady.account_id, leaving.account_id}
        assert accounts[steady.account_id].grade == "green"
        assert accounts[steady.account_id].scorecard_segment == "enterprise"
        assert accounts[steady.account_id].scorecard_version == BUILT_IN_VERSION
        assert accounts[leaving.account_id].score < accounts[steady.account_id].score
        history = await health.rows(
            "SELECT account_id, cause, scorecard_version, reasons, previous_score FROM {s}.score_history")
        assert {h.account_id for h in history} == set(accounts)
        assert all(h.cause in ("event", "schedule") and h.scorecard_version == BUILT_IN_VERSION for h in history)
        # Every change is explained. (An account's first score may have nothing to explain yet when the
        # first batch that reached it held only, say, its contract: which batch that is depends on how
        # the three topics interleave.)
        assert all(h.reasons for h in history if h.previous_score is not None)

        changed = await health.records(health.topics.account_health, at_least=len(history))
        assert len(changed) == len(history), "one health.changed per stored score change"
        assert len({c["event_id"] for c in changed}) == len(changed)
        latest = {c["account_id"]: c for c in changed}
        assert latest[steady.account_id]["type"] == "health.changed"
        assert latest[steady.account_id]["score"] == accounts[steady.account_id].score
        assert set(latest[steady.account_id]["components"]) <= {"usage", "engagement", "sentiment", "support",
                                                                "relationship"}

        alerts = await health.records(health.topics.churn_risk, at_least=1)
        champion = [a for a in alerts if a["kind"] == "champion_left"]
        assert len(champion) == 1 and champion[0]["account_id"] == leaving.account_id
        alert = champion[0]
        assert alert["type"] == "churn_risk.raised" and alert["severity"] in ("high", "critical")
        assert any(departure in r["evidence_event_ids"] for r in alert["reasons"])
        assert all(r["detail"] and "component" in r and "delta" in r for r in alert["reasons"])
        assert alert["renewal_date"] == "2027-07-06" and alert["arr_at_risk"] == "120000"
        assert isinstance(alert["days_to_renewal"], int)
        stored = await health.rows("SELECT alert_id, status, kind FROM {s}.alerts")
        assert [(a.alert_id, a.status) for a in stored if a.kind == "champion_left"] == [(alert["alert_id"], "open")]


def _start_worker(env: dict[str, str], **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.health.worker"], cwd=REPO,
        env={**os.environ, **env, **QUICK_GROUP_TIMEOUTS, **extra}, stdout=subprocess.PIPE, text=True,
    )


async def test_each_alert_exactly_once_across_a_sigkill_between_db_commit_and_offset_commit(
    infra: Infra, schema: str, unique: str
) -> None:
    stories = []
    for n in range(8):
        story = Story(f"acct-{n}-{unique}")
        story.contract(0, seats=5)
        story.contact(1, "c0", "champion")
        story.usage(1, 21, 3)
        story.contact(12, "c0", "champion", change="left")  # unreplaced for a week by day 19
        stories.append(story)
    events = [e for s in stories for e in s.in_time_order()]
    settings = settings_for(infra, schema=schema, unique=unique, consumer_max_records=40)
    env = settings_env(settings)
    async with running(settings) as health:  # creates the topics and the schema; its relay stands by
        await health.produce(events)
        crashing = _start_worker(env, HEALTH_CRASH="after_db_commit")
        assert await asyncio.to_thread(crashing.wait, 120) == -signal.SIGKILL
        applied = (await health.rows("SELECT count(*) FROM {s}.processed_events"))[0][0]
        assert 0 < applied < len(events), "the first batch was durable in the DB when the worker died"
        group = f"orchard-{settings.service_name}"
        assert await committed_offsets(infra.kafka_bootstrap, group, health.topics.usage) == {}

        worker = _start_worker(env)
        try:
            await wait_for(lambda: health.applied(len(events)), timeout=90, what="every event applied")
            alerts = await health.records(health.topics.churn_risk, at_least=len(stories))
            await asyncio.sleep(1.0)  # a second copy, if there were one, would have arrived by now
            alerts = await health.records(health.topics.churn_risk)
        finally:
            worker.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(worker.wait, 60) == 0
        champion = [a for a in alerts if a["kind"] == "champion_left"]
        assert sorted(a["account_id"] for a in champion) == sorted(s.account_id for s in stories)
        assert len({a["event_id"] for a in alerts}) == len(alerts), "no alert record twice on the topic"
        rows = await health.rows("SELECT account_id FROM {s}.alerts WHERE kind = 'champion_left'")
        assert sorted(r.account_id for r in rows) == sorted(s.account_id for s in stories)
