"""Contract and health records in through the real topics; renewals in Postgres and the API;
exactly one renewal_at_risk alert per condition on the real churn-risk topic, also after the same
records come again; and a replay re-derives the same alert ids and keeps what people set."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from shared.replay import derived_tables
from tests.infra import Infra
from tests.integration.renewals.harness import running, settings_for
from tests.kafka_utils import wait_for
from tests.services import WRITER
from tests.unit.renewals.factories import contract_envelope, health_changed, terms

pytestmark = pytest.mark.integration


async def test_contract_in_renewal_stored_and_red_health_alerts_once_across_redelivery(
    infra: Infra, schema: str, unique: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.date()
    account = f"risky-{unique}"
    signed = contract_envelope(account, "signed", terms("c-1", arr="12000", start=today - timedelta(days=300),
                                                          end=today + timedelta(days=60)),
                               on=today - timedelta(days=301))
    red = health_changed(account, "red", 40, on=now, previous=45)
    async with running(settings_for(infra, schema=schema, unique=unique), consume=True) as renewals:
        await renewals.produce([signed, red])
        await wait_for(lambda: renewals.applied(2), timeout=30, what="both records applied")

        reply = await renewals.http.get(f"/v1/accounts/{account}/renewal")
        assert reply.status_code == 200, reply.text
        (renewal,) = reply.json()["renewals"]
        assert renewal["stage"] == "open" and renewal["risk"] == "high" and renewal["days_to_renewal"] == 60
        assert renewal["arr"] == "12000" and renewal["alert_severity"] == "high"

        (alert,) = await renewals.alerts(at_least=1)
        assert alert["type"] == "churn_risk.raised" and alert["kind"] == "renewal_at_risk"
        assert alert["severity"] == "high" and alert["account_id"] == account and alert["grade"] == "red"
        assert alert["renewal_date"] == (today + timedelta(days=60)).isoformat()
        assert alert["days_to_renewal"] == 60 and alert["arr_at_risk"] == "12000"
        assert alert["renewal_id"] == renewal["renewal_id"] and "high risk" in alert["reasons"][0]["detail"]

        await renewals.produce([signed, red])  # redelivered: processed_events drops them
        await asyncio.sleep(1.5)
        assert len(await renewals.alerts()) == 1

        # A second red record at the same level raises nothing; green resolves it.
        later = [health_changed(account, "red", 38, on=now + timedelta(minutes=1), previous=40),
                 health_changed(account, "green", 80, on=now + timedelta(minutes=2), previous=38)]
        await renewals.produce(later)
        alerts = await renewals.alerts(at_least=2)
        assert [a["type"] for a in alerts] == ["churn_risk.raised", "churn_risk.resolved"]
        assert alerts[1]["event_id"] != alert["event_id"]

        patched = await renewals.http.patch(f"/v1/renewals/{renewal['renewal_id']}", headers=WRITER,
                                            json={"stage": "in_progress", "owner": "ann", "notes": "call CFO"})
        assert patched.status_code == 200, patched.text
        renewals.service.runner.stop()

        # A replay: the derived tables emptied, the same records applied again, one per batch.
        tables = derived_tables(schema=schema, hook_module="services.renewals.store")
        derived = {"processed_events", "accounts", "arr_spans", "schedule", "stream_watermarks"}
        assert {t.name for t in tables} == derived
        async with renewals.service.runtime.engine.begin() as conn:
            await conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t.schema}"."{t.name}"' for t in tables)))
        for record in [signed, red, *later]:
            await renewals.apply([record])
        replayed = await renewals.alerts(at_least=4)
        assert [a["event_id"] for a in replayed] == [a["event_id"] for a in alerts] * 2, "same ids, de-duplicable"
        (kept,) = (await renewals.http.get(f"/v1/accounts/{account}/renewal")).json()["renewals"]
        assert (kept["stage"], kept["owner"], kept["notes"]) == ("in_progress", "ann", "call CFO")
