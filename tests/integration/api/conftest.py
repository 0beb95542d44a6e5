"""The four services in-process against the real broker and database, each with its own topics and
schema, seeded with a little data so that ids exist and lists have items; HTTP clients that return
a 500 as a response (instead of raising) so that tests can count them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import new_unique
from tests.infra import Infra
from tests.integration.expansion import harness as expansion_harness
from tests.integration.health import harness as health_harness
from tests.integration.ingest import harness as ingest_harness
from tests.integration.renewals import harness as renewals_harness
from tests.unit.expansion.factories import upsell_story
from tests.unit.renewals.factories import contract_envelope, health_changed, terms

SERVICES = ("ingest", "health", "renewals", "expansion")


@dataclass
class Apis:
    apps: dict[str, FastAPI]
    ids: dict[str, str] = field(default_factory=dict)
    """Ids that exist: account_id, alert_id, renewal_id, opportunity_id, segment, kind."""

    def client(self, service: str, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.apps[service], raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url=f"http://{service}", headers=headers)

    def openapi(self, service: str) -> dict[str, Any]:
        return self.apps[service].openapi()


def _renewal_book() -> list[renewals_harness.Input]:
    now = datetime.now(UTC).replace(microsecond=0)
    end = now.date() + timedelta(days=30)
    signed = contract_envelope("acct-r", "signed", terms("acct-r-c", arr="10000", start=end - timedelta(days=364),
                                                         end=end), on=end - timedelta(days=365))
    return [signed, health_changed("acct-r", "red", 40, on=now)]


@pytest.fixture(scope="module")
async def apis(infra: Infra, engine: AsyncEngine) -> AsyncIterator[Apis]:
    unique = new_unique()
    schemas = {name: f"t_{unique}_{name[:3]}" for name in SERVICES}

    def settings(harness: Any, name: str) -> Any:
        # The backtest's upload limit is configuration (a history is large); here it is small enough to
        # send one byte over it.
        overrides = {"health_backtest_max_bytes": 512 * 1024} if name == "health" else {}
        return harness.settings_for(infra, schema=schemas[name], unique=f"{unique}{name[:3]}", **overrides)

    async with AsyncExitStack() as stack:
        ingest = await stack.enter_async_context(
            ingest_harness.running(settings(ingest_harness, "ingest"), consume=False))
        health = await stack.enter_async_context(health_harness.running(settings(health_harness, "health")))
        renewals = await stack.enter_async_context(
            renewals_harness.running(settings(renewals_harness, "renewals")))
        expansion = await stack.enter_async_context(
            expansion_harness.running(settings(expansion_harness, "expansion")))

        leaving = health_harness.healthy("acct-h", days=30)
        leaving.contact(21, "c0", "champion", change="left")  # unreplaced for over a week by day 30
        await health.apply(leaving.in_time_order())
        await renewals.apply(_renewal_book())
        await expansion.apply(upsell_story("acct-x").events)

        apps = {"ingest": ingest.service.app, "health": health.service.app, "renewals": renewals.service.app,
                "expansion": expansion.service.app}
        ids = {
            "account_id": "acct-h", "segment": "enterprise", "kind": "grade",
            "alert_id": (await health.rows("SELECT alert_id FROM {s}.alerts"))[0][0],
            "renewal_id": (await renewals.rows("SELECT renewal_id FROM {s}.renewals"))[0][0],
            "opportunity_id": (await expansion.rows("SELECT opportunity_id FROM {s}.opportunities"))[0][0],
        }
        yield Apis(apps, ids)
    async with engine.begin() as conn:
        for schema in schemas.values():
            await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
