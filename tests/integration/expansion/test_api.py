"""The expansion API in-process (httpx ASGI transport) over a real database fed by the real handler."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import new_unique
from tests.infra import Infra
from tests.integration.expansion.harness import Expansion, running, settings_for
from tests.services import WRITER, all_pages
from tests.unit.expansion.factories import steady_story, upsell_story

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def api(infra: Infra, engine: AsyncEngine) -> AsyncIterator[Expansion]:
    """Five upsell accounts (five opportunities each: decided event by event, whitespace for planning
    opens before premium_feature_use for it has its three days) and one steady account (none)."""
    unique = new_unique()
    schema = f"t_{unique}"
    async with running(settings_for(infra, schema=schema, unique=unique)) as expansion:
        await expansion.apply([e for n in range(5) for e in upsell_story(f"up-{n}").events])
        await expansion.apply(steady_story("steady").events)
        yield expansion
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


async def _all(api: Expansion, path: str, **params: object) -> list[dict[str, object]]:
    return await all_pages(api.http, path, **params)


async def test_list_pages_through_every_opportunity_once_newest_first(api: Expansion) -> None:
    everything = await _all(api, "/v1/opportunities", limit=500)
    paged = await _all(api, "/v1/opportunities", limit=3)
    assert len(everything) == 25 and [o["opportunity_id"] for o in paged] == [o["opportunity_id"] for o in everything]
    first = (await api.http.get("/v1/opportunities")).json()
    assert len(first["items"]) == 25 and first["next_cursor"] is None, "limit defaults to 50"


async def test_filters_by_kind_stage_and_min_uplift(api: Expansion) -> None:
    seats = await _all(api, "/v1/opportunities", kind="seat_limit")
    assert len(seats) == 5 and {o["kind"] for o in seats} == {"seat_limit"}
    big = await _all(api, "/v1/opportunities", min_uplift="1000")
    assert big and all(float(o["estimated_arr_uplift"]) >= 1000 for o in big)
    assert len(big) < 25
    assert len(await _all(api, "/v1/opportunities", stage="open")) >= 15


async def test_account_opportunities_and_an_account_with_none(api: Expansion) -> None:
    mine = await _all(api, "/v1/accounts/up-1/opportunities")
    assert {o["account_id"] for o in mine} == {"up-1"} and len(mine) == 5
    assert {o["kind"] for o in mine} == {"seat_limit", "premium_feature_use", "high_satisfaction", "whitespace"}
    assert (await api.http.get("/v1/accounts/steady/opportunities")).json() == {"items": [], "next_cursor": None}


async def test_patch_moves_stage_sets_owner_and_notes_and_refuses_bad_moves(api: Expansion) -> None:
    target = (await _all(api, "/v1/accounts/up-2/opportunities", ))[0]
    path = f"/v1/opportunities/{target['opportunity_id']}"
    reply = await api.http.patch(path, json={"stage": "qualified", "owner": "ana", "notes": "call Tuesday"},
                                 headers=WRITER)
    assert reply.status_code == 200, reply.text
    assert reply.json()["stage"] == "qualified" and reply.json()["owner"] == "ana"
    reply = await api.http.patch(path, json={"stage": "dismissed"}, headers=WRITER)
    assert reply.json()["stage"] == "dismissed" and reply.json()["closed_at"] is not None
    assert reply.json()["notes"] == "call Tuesday"
    refused = await api.http.patch(path, json={"stage": "open"}, headers=WRITER)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_transition"
    assert (await api.http.patch(path, json={"stage": "nope"}, headers=WRITER)).status_code == 422
    assert (await api.http.patch(path, json={}, headers=WRITER)).status_code == 422
    missing = await api.http.patch("/v1/opportunities/none", json={"owner": "x"}, headers=WRITER)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_whitespace_lists_unowned_products_with_reasons(api: Expansion) -> None:
    reply = await api.http.get("/v1/accounts/up-3/whitespace")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["owned_products"] == ["core"] and body["seats"] == 10 and body["active_users"] == 10
    products = {p["product"]: p for p in body["products"]}
    assert set(products) == {"analytics", "planning", "automation", "governance"}
    assert products["planning"]["fit"] == 1.0 and products["planning"]["fits"]
    assert any("forecasting" in r for r in products["planning"]["reasons"])
    assert not products["governance"]["fits"] and products["governance"]["reasons"] == ["needs analytics first"]
    assert products["planning"]["estimated_arr_uplift"] == "3000.00"
    assert (await api.http.get("/v1/accounts/nobody/whitespace")).status_code == 404


async def test_auth_401_without_a_known_key_and_403_without_the_scope(api: Expansion) -> None:
    assert (await api.http.get("/v1/opportunities", headers={"Authorization": ""})).status_code == 401
    assert (await api.http.get("/v1/opportunities", headers={"Authorization": "Bearer wrong"})).status_code == 401
    ingest_only = {"Authorization": "Bearer ingest-key"}
    assert (await api.http.get("/v1/accounts/up-1/whitespace", headers=ingest_only)).status_code == 403
    forbidden = await api.http.patch("/v1/opportunities/x", json={"owner": "a"})  # reader key: no write scope
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    assert (await api.http.get("/v1/opportunities", params={"cursor": "!!"})).status_code == 400
