"""The renewals API in-process (httpx ASGI transport) over a real database fed by the real handler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import new_unique
from tests.infra import Infra
from tests.integration.renewals.harness import Input, Renewals, running, settings_for
from tests.services import READER, WRITER, all_pages
from tests.unit.renewals.factories import contract_envelope, health_changed, terms

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


def _signed(account: str, *, ends_in: int, arr: str = "10000", currency: str = "USD") -> dict[str, Any]:
    end = TODAY + timedelta(days=ends_in)
    return contract_envelope(account, "signed", terms(f"{account}-c", arr=arr, currency=currency,
                                                      start=end - timedelta(days=364), end=end),
                             on=end - timedelta(days=365))


def _book() -> list[Input]:
    def past(account: str, kind: str, on: str, **data: Any) -> dict[str, Any]:
        return contract_envelope(account, kind, terms(f"{account}-c", **data), on=on)

    y = {"start": "2025-01-01", "end": "2025-12-31"}
    return [
        # The renewals of the coming months (soon-red is outside the closing 30 days, which would make it critical).
        _signed("soon-red", ends_in=40), health_changed("soon-red", "red", 40, on=NOW),
        _signed("mid-yellow", ends_in=90), health_changed("mid-yellow", "yellow", 60, on=NOW),
        _signed("later-green", ends_in=200), health_changed("later-green", "green", 85, on=NOW),
        # The forecast of 2031-Q1: USD high 10000, USD low 20000, EUR no health (medium) 8000.
        past("fc-1", "signed", "2030-03-01", arr="10000", start="2030-03-31", end="2031-03-30"),
        health_changed("fc-1", "red", 40, on=NOW),
        past("fc-2", "signed", "2030-02-01", arr="8000", currency="EUR", start="2030-02-15", end="2031-02-14"),
        past("fc-3", "signed", "2030-01-01", arr="20000", start="2030-01-02", end="2031-01-01"),
        health_changed("fc-3", "green", 90, on=NOW),
        # Retention of 2025-Q3: steady 10000; leaves 5000 (cancelled 2025-08-15); grows 20000 -> 30000
        # (amended 2025-08-01); a new customer from 2025-08-01 who counts nowhere.
        past("steady", "signed", "2024-12-01", arr="10000", **y),
        past("leaves", "signed", "2024-12-01", arr="5000", **y),
        contract_envelope("leaves", "cancelled", {"contract_id": "leaves-c", "end_date": "2025-08-15"},
                          on="2025-07-20"),
        past("grows", "signed", "2024-12-01", arr="20000", **y),
        past("grows", "amended", "2025-08-01", arr="30000", **y),
        past("newco", "signed", "2025-07-25", arr="50000", start="2025-08-01", end="2026-07-31"),
    ]


@pytest.fixture(scope="module")
async def api(infra: Infra, engine: AsyncEngine) -> AsyncIterator[Renewals]:
    unique = new_unique()
    schema = f"t_{unique}"
    rates = '{"base": "USD", "as_of": "2031-01-01", "rates": {"EUR": "1.25"}}'
    async with running(settings_for(infra, schema=schema, unique=unique, fx_rates=rates)) as renewals:
        await renewals.apply(_book())
        yield renewals
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


async def _all(api: Renewals, path: str, **params: object) -> list[dict[str, Any]]:
    return await all_pages(api.http, path, **params)


def _accounts(items: list[dict[str, Any]]) -> set[str]:
    return {i["account_id"] for i in items}


async def test_list_pages_through_every_renewal_once_soonest_first(api: Renewals) -> None:
    everything = await _all(api, "/v1/renewals", limit=500)
    paged = await _all(api, "/v1/renewals", limit=3)
    assert len(everything) == 10 and [r["renewal_id"] for r in paged] == [r["renewal_id"] for r in everything]
    dates = [date.fromisoformat(r["renewal_date"]) for r in everything]
    assert dates == sorted(dates)
    bad = await api.http.get("/v1/renewals", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"


async def test_filters_by_due_within_days_risk_and_stage(api: Renewals) -> None:
    assert _accounts(await _all(api, "/v1/renewals", due_within_days=100)) == {"soon-red", "mid-yellow"}
    assert _accounts(await _all(api, "/v1/renewals", risk="high")) == {"soon-red", "fc-1"}
    upcoming = await _all(api, "/v1/renewals", stage="upcoming")
    assert _accounts(upcoming) == {"later-green", "fc-1", "fc-2", "fc-3"}
    assert upcoming[0]["window_opens_on"] == (TODAY + timedelta(days=80)).isoformat()
    assert _accounts(await _all(api, "/v1/renewals", stage="churned")) == {"leaves"}
    assert {"soon-red", "mid-yellow", "steady", "grows"} <= _accounts(await _all(api, "/v1/renewals", stage="open"))
    assert (await api.http.get("/v1/renewals", params={"risk": "dire"})).status_code == 422


async def test_account_renewal_and_404(api: Renewals) -> None:
    reply = await api.http.get("/v1/accounts/soon-red/renewal")
    assert reply.status_code == 200
    (renewal,) = reply.json()["renewals"]
    assert renewal["days_to_renewal"] == 40 and renewal["risk"] == "high"
    assert renewal["risk_reasons"][0]["detail"] == "health is red at 40"
    assert (await api.http.get("/v1/accounts/leaves/renewal")).status_code == 404, "churned is not next"
    missing = await api.http.get("/v1/accounts/nobody/renewal")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_forecast_by_risk_band_per_currency(api: Renewals) -> None:
    reply = await api.http.get("/v1/forecast", params={"period": "2031-Q1"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    by_currency = {c["currency"]: c for c in body["by_currency"]}
    assert set(by_currency) == {"EUR", "USD"}
    usd = by_currency["USD"]
    assert usd["total"]["arr"] == "30000" and usd["total"]["expected_arr"] == "24000.00"  # 10000 x .5 + 20000 x .95
    assert usd["by_risk"]["high"]["expected_arr"] == "5000.00" and usd["by_risk"]["low"]["renewals"] == 1
    assert by_currency["EUR"]["total"]["expected_arr"] == "6400.00"
    assert body["probabilities"]["critical"] == 0.25
    high = body["band_probabilities"]["high"]
    assert (high["source"], high["probability"], high["closed"]) == ("default", 0.5, 0), "no closed renewal yet"
    # Beside the per-currency figures, one total with the table: 30000 + 8000 x 1.25, 24000 + 6400 x 1.25.
    assert body["consolidated"] == {"currency": "USD", "renewals": 3, "arr": "40000.00", "expected_arr": "32000.00"}
    assert body["consolidation"]["rates"] == {"EUR": "1.25", "USD": "1"} and body["consolidation"]["as_of"] == \
        "2031-01-01"
    assert body["expansion_pipeline"]["path"] == "/v1/pipeline?period=2031-Q1"
    bad = await api.http.get("/v1/forecast", params={"period": "2031-Q5"})
    assert bad.status_code == 400 and "not a quarter" in bad.json()["error"]["message"]


async def test_retention_by_hand(api: Renewals) -> None:
    reply = await api.http.get("/v1/metrics/retention", params={"period": "2025-Q3"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    (usd,) = body["by_currency"]
    assert usd["starting_arr"] == "35000" and usd["starting_accounts"] == 3
    assert (usd["churned_arr"], usd["contraction_arr"], usd["expansion_arr"]) == ("5000", "0", "10000")
    assert usd["grr"] == 0.8571 and usd["nrr"] == 1.1429
    assert (body["starting_accounts"], body["churned_accounts"], body["logo_churn"]) == (3, 1, 0.3333)
    whole = body["consolidated"]
    assert (whole["currency"], whole["starting_arr"], whole["grr"], whole["nrr"]) == ("USD", "35000.00", 0.8571, 1.1429)
    assert (await api.http.get("/v1/metrics/retention", params={"period": "soon"})).status_code == 400


async def test_auth(api: Renewals) -> None:
    assert (await api.http.get("/v1/renewals", headers={"Authorization": ""})).status_code == 401
    assert (await api.http.get("/v1/forecast?period=2031", headers={"Authorization": "Bearer nope"})).status_code == 401
    (renewal,) = (await api.http.get("/v1/accounts/mid-yellow/renewal")).json()["renewals"]
    patch = await api.http.patch(f"/v1/renewals/{renewal['renewal_id']}", json={"owner": "ann"}, headers=READER)
    assert patch.status_code == 403


async def test_patch_moves_the_stage_and_survives_new_contract_events(api: Renewals) -> None:
    (renewal,) = (await api.http.get("/v1/accounts/mid-yellow/renewal")).json()["renewals"]
    path = f"/v1/renewals/{renewal['renewal_id']}"
    reply = await api.http.patch(path, json={"stage": "in_progress", "owner": "ann", "notes": "QBR booked"},
                                 headers=WRITER)
    assert reply.status_code == 200, reply.text
    assert (reply.json()["stage"], reply.json()["owner"]) == ("in_progress", "ann")
    wrong = await api.http.patch(path, json={"stage": "renewed"}, headers=WRITER)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "invalid_transition"
    assert (await api.http.patch(path, json={}, headers=WRITER)).status_code == 422
    assert (await api.http.patch("/v1/renewals/nope", json={"owner": "x"}, headers=WRITER)).status_code == 404

    end = TODAY + timedelta(days=90)
    await api.apply([contract_envelope("mid-yellow", "amended", terms("mid-yellow-c", arr="11000",
                                                                       start=end - timedelta(days=364), end=end),
                                       on=TODAY)])
    (after,) = (await api.http.get("/v1/accounts/mid-yellow/renewal")).json()["renewals"]
    assert (after["stage"], after["owner"], after["notes"], after["arr"]) == ("in_progress", "ann", "QBR booked",
                                                                              "11000")
    assert _accounts(await _all(api, "/v1/renewals", stage="in_progress")) == {"mid-yellow"}
