"""Rebuilding health from the canonical topics (``shared.replay``) gives the same state, keeps people's
input (acknowledged alerts), and emits no alert a second time."""

from __future__ import annotations

import pytest

from shared.replay import run as replay
from tests.infra import Infra
from tests.integration.health.harness import healthy, running, settings_for
from tests.kafka_utils import wait_for
from tests.services import WRITER

pytestmark = pytest.mark.integration


async def test_a_replay_rebuilds_the_same_scores_and_keeps_acknowledged_alerts(
    infra: Infra, schema: str, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(infra, schema=schema, unique=unique)
    leaving = healthy(f"leaving-{unique}")
    leaving.contact(50, "c0", "champion", change="left")  # unreplaced for over a week by the end
    steady = healthy(f"steady-{unique}")
    events = leaving.in_time_order() + steady.in_time_order()

    async with running(settings, consume=True) as health:
        await health.produce(events)
        await wait_for(lambda: health.applied(len(events)), timeout=60, what="every event applied")
        before = {r.account_id: (r.score, r.grade) for r in await health.rows(
            "SELECT account_id, score, grade FROM {s}.accounts")}
        alert_ids = {r.alert_id: r.kind for r in await health.rows("SELECT alert_id, kind FROM {s}.alerts")}
        (alert_id,) = [a for a, kind in alert_ids.items() if kind == "champion_left"]
        acked = await health.http.post(
            f"/v1/alerts/{alert_id}/ack", json={"note": "called them"}, headers=WRITER
        )
        assert acked.status_code == 200, acked.text
        alerts_out = await health.records(health.topics.churn_risk, at_least=1)

    monkeypatch.setenv("ORCHARD_KAFKA_BOOTSTRAP", infra.kafka_bootstrap)
    monkeypatch.setenv("ORCHARD_DATABASE_URL", infra.database_url)
    assert await replay([settings.service_name, "--schema", schema, "--hook", "services.health.store", "--yes"]) == 0

    async with running(settings, consume=True) as health:
        assert await health.rows("SELECT account_id FROM {s}.accounts") == [], "derived state was emptied"
        await wait_for(lambda: health.applied(len(events)), timeout=60, what="every event applied again")
        after = {r.account_id: (r.score, r.grade) for r in await health.rows(
            "SELECT account_id, score, grade FROM {s}.accounts")}
        assert after == before
        rows = {r.alert_id: r for r in await health.rows("SELECT alert_id, kind, acknowledged_by FROM {s}.alerts")}
        assert {a: r.kind for a, r in rows.items()} == alert_ids, "the same alerts, none doubled"
        assert rows[alert_id].acknowledged_by, "the acknowledgement survived the rebuild"
        replayed = await health.records(health.topics.churn_risk, at_least=len(alerts_out))
        assert {a["event_id"] for a in replayed} == {a["event_id"] for a in alerts_out}, (
            "re-derived alerts carry the same event ids, so consumers drop the copies"
        )
