"""A stable red account entering its renewal window, through the real broker and database: the
scheduled pass alone (no new event for the account) raises one renewal_at_risk alert, when event
time (the stream's, not the wall clock's) reaches the window, and exactly once across passes and a
restart; once the stream has gone quiet, the wall clock moves it on to its 90-day reminder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.renewals.domain import midnight
from tests.infra import Infra
from tests.integration.renewals.harness import Renewals, running, settings_for
from tests.kafka_utils import wait_for
from tests.unit.renewals.factories import contract_envelope, health_changed, terms

pytestmark = pytest.mark.integration


async def _pass(renewals: Renewals, *, as_of: datetime) -> int:
    """One scheduled pass as of `as_of` (the wall clock it is given); the alerts it emitted."""
    report = await renewals.service.scheduler.judge_due(as_of=as_of)
    assert report is not None, "no other pass holds the lock"
    return report.alerts


def _mine(alerts: list[dict[str, Any]], account: str) -> list[tuple[str, str, int, str]]:
    return [(a["action"], a["severity"], a["days_to_renewal"], a["occurred_at"]) for a in alerts
            if a["account_id"] == account]


async def test_a_stable_red_account_entering_its_window_is_raised_by_the_pass_alone(
    infra: Infra, schema: str, unique: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.date()
    account, other = f"stable-red-{unique}", f"other-{unique}"
    renews = today + timedelta(days=125)  # its window (120 days) opens in 5 days
    signed = contract_envelope(account, "signed", terms("c-1", arr="50000", start=renews - timedelta(days=364),
                                                          end=renews), on=today - timedelta(days=240))
    red = health_changed(account, "red", 40, on=now - timedelta(days=1), previous=42)
    wall_clock_ahead = now + timedelta(days=60)
    # The stream is never quiet here: the pass judges up to the stream's event time only.
    busy = settings_for(infra, schema=schema, unique=unique, renewals_stream_quiet_s=3600,
                        renewals_midnight_grace_s=0)
    async with running(busy, consume=True) as renewals:
        await renewals.produce([signed, red])
        await wait_for(lambda: renewals.applied(2), timeout=30, what="contract and health applied")
        assert await _pass(renewals, as_of=wall_clock_ahead) == 0, "the stream has not reached the window yet"
        (row,) = await renewals.rows("SELECT risk, alert_severity FROM {s}.renewals")
        assert tuple(row) == ("high", None)

        # Another account's record moves the stream's time on by a week; nothing arrives for this one.
        await renewals.produce([health_changed(other, "green", 90, on=now + timedelta(days=7))])
        await wait_for(lambda: renewals.applied(3), timeout=30, what="the other account's record applied")
        assert await _pass(renewals, as_of=wall_clock_ahead) == 1
        opened = midnight(renews - timedelta(days=120))
        (alert,) = await renewals.alerts(at_least=1)
        assert (alert["type"], alert["kind"], alert["action"]) == ("churn_risk.raised", "renewal_at_risk", "raised")
        assert alert["account_id"] == account and alert["severity"] == "high" and alert["grade"] == "red"
        assert alert["days_to_renewal"] == 120 and alert["renewal_date"] == renews.isoformat()
        assert datetime.fromisoformat(alert["occurred_at"]) == opened, "at the midnight the window opened"
        assert alert["arr_at_risk"] == "50000" and alert["reasons"][1]["detail"] == "health is red at 40"

        assert await _pass(renewals, as_of=wall_clock_ahead) == 0
        reply = await renewals.http.get(f"/v1/accounts/{account}/renewal")
        assert reply.json()["renewals"][0]["alert_severity"] == "high"

    # A restart, and this time the stream goes quiet: the wall clock is today.
    quiet = busy.model_copy(update={"renewals_stream_quiet_s": 0.0})
    async with running(quiet, consume=True) as renewals:
        runner = renewals.service.runner

        async def quiet_now() -> bool:
            return bool(runner.quiet_partitions(0.0))

        await wait_for(quiet_now, timeout=30, what="the consumer caught up and quiet")
        assert await _pass(renewals, as_of=now + timedelta(days=7)) == 0
        assert await _pass(renewals, as_of=now + timedelta(days=36)) == 1
        alerts = await renewals.alerts(at_least=2)
        assert _mine(alerts, account) == [
            ("raised", "high", 120, opened.isoformat().replace("+00:00", "Z")),
            ("reminded", "high", 90, midnight(renews - timedelta(days=90)).isoformat().replace("+00:00", "Z"))]
        assert len({a["alert_id"] for a in alerts}) == 1, "one alert, reminded"
        assert await _pass(renewals, as_of=now + timedelta(days=36)) == 0
        assert len(await renewals.alerts()) == 2, "exactly once across the restart"
