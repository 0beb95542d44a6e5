"""The health API in-process (httpx ASGI transport) over a real database fed by the real handler."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import new_unique
from tests.infra import Infra
from tests.integration.health.harness import BUILT_IN_VERSION, Health, Story, at, healthy, running, settings_for
from tests.services import WRITER, all_pages

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def api(infra: Infra, engine: AsyncEngine) -> AsyncIterator[Health]:
    """One service for the module: accounts with a history (trend), a departed champion (an alert),
    identical scores (ties), and accounts without a contract (no ARR, no renewal date)."""
    unique = new_unique()
    schema = f"t_{unique}"
    async with running(settings_for(infra, schema=schema, unique=unique)) as health:
        trending = healthy("trending", days=30)
        await health.apply(trending.events)
        for first, last, users in ((31, 45, 15), (46, 75, 5)):  # then active users fall from 15 to 5
            seen = len(trending.events)
            trending.usage(first, last, users)
            await health.apply(trending.since(seen))
        leaving = healthy("leaving")
        leaving.contact(50, "c0", "champion", change="left")  # unreplaced for over a week by the end
        leaving.add(51, "account.updated", {"name": "Leaving Ltd", "owner": "sam@example.com", "crm_id": "0015"})
        await health.apply(leaving.in_time_order())
        twins = [healthy(f"twin-{n}", segment="smb", seats=40) for n in range(7)]
        await health.apply([e for t in twins for e in t.events])
        loners = []
        for n in range(3):
            loner = Story(f"loner-{n}")
            loner.usage(1, 20, 2 + n)
            loners.extend(loner.events)
        await health.apply(loners)
        yield health
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


async def test_health_has_score_components_trend_reasons_and_the_last_change(api: Health) -> None:
    reply = await api.http.get("/v1/accounts/trending/health")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert 0 <= body["score"] <= 100 and body["grade"] in ("green", "yellow", "red")
    assert set(body["components"]) == {"usage", "engagement", "sentiment", "support", "relationship"}
    usage = body["components"]["usage"]
    assert usage["score"] is not None and usage["facts"]["seats"] == 20 and usage["parts"]
    assert body["components"]["support"]["score"] is None and body["components"]["support"]["missing"]
    assert body["scorecard"] == {"segment": "enterprise", "version": BUILT_IN_VERSION}
    assert body["as_of"].startswith(datetime.now(UTC).date().isoformat()), "read as of now: silence since counts"
    assert set(body["trend"]) == {"7d", "30d", "90d"}
    # Read today, months after the story's last event: the fall of usage and the silence since both show.
    assert body["trend"]["90d"] is not None and body["trend"]["90d"] < 0
    assert body["reasons"] and all(r["detail"] for r in body["reasons"])
    change = body["last_change"]  # the fall goes on at each midnight as the 30-day windows move
    assert change["cause"] in ("event", "schedule") and change["previous_score"] is not None
    assert any(r["component"] == "usage" and r["delta"] < 0 and r["evidence_event_ids"] for r in change["reasons"])
    assert body["effective"] == {"score": body["score"], "grade": body["grade"], "overridden": False, "notes": []}
    assert body["arr"] == "120000" and body["renewal_date"] == at(400).date().isoformat()
    assert isinstance(body["days_to_renewal"], int)

    leaving = (await api.http.get("/v1/accounts/leaving/health")).json()
    assert [a["kind"] for a in leaving["open_alerts"]] == ["champion_left"]

    assert (await api.http.get("/v1/accounts/nobody/health")).status_code == 404


async def test_names_and_owners_from_the_crm_show_and_my_accounts_are_one_filter(api: Health) -> None:
    mine = await api.http.get("/v1/accounts", params={"owner": "sam@example.com"})
    assert mine.status_code == 200, mine.text
    assert [(a["account_id"], a["name"], a["owner"]) for a in mine.json()["items"]] == [
        ("leaving", "Leaving Ltd", "sam@example.com")]
    assert (await api.http.get("/v1/accounts", params={"owner": "nobody@example.com"})).json()["items"] == []
    health = (await api.http.get("/v1/accounts/leaving/health")).json()
    assert (health["name"], health["owner"]) == ("Leaving Ltd", "sam@example.com")
    unnamed = (await api.http.get("/v1/accounts/trending/health")).json()
    assert (unnamed["name"], unnamed["owner"]) == (None, None)


async def test_history_is_paginated_newest_first_within_from_and_to(api: Health) -> None:
    everything = (await api.http.get("/v1/accounts/trending/health/history", params={"limit": 500})).json()["items"]
    assert len(everything) >= 3
    assert [h["as_of"] for h in everything] == sorted((h["as_of"] for h in everything), reverse=True)
    assert everything[-1]["previous_score"] is None and everything[-1]["cause"] == "event"
    assert all(h["cause"] in ("event", "schedule") for h in everything)
    assert all(h["scorecard"]["version"] == BUILT_IN_VERSION for h in everything)
    assert all(h["previous_score"] == older["score"] for h, older in itertools.pairwise(everything)), \
        "each entry continues from the one before: no change is missing"

    pages, cursor = [], None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api.http.get("/v1/accounts/trending/health/history", params=params)).json()
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert all(len(p) == 2 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 2
    assert [h["as_of"] for p in pages for h in p] == [h["as_of"] for h in everything]

    window = {"from": at(40).isoformat(), "to": at(70).isoformat()}
    within = (await api.http.get("/v1/accounts/trending/health/history", params={**window, "limit": 500})).json()
    expected = [h["as_of"] for h in everything if at(40) <= datetime.fromisoformat(h["as_of"]) < at(70)]
    assert expected and [h["as_of"] for h in within["items"]] == expected
    bad = await api.http.get("/v1/accounts/trending/health/history", params={"from": "2026-06-01T00:00:00"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    assert (await api.http.get("/v1/accounts/nobody/health/history")).status_code == 404


async def _all_pages(api: Health, **params: str | int | float) -> list[dict[str, object]]:
    return await all_pages(api.http, "/v1/accounts", **params)


async def test_list_sorts_filters_and_pages_through_ties_and_nulls(api: Health) -> None:
    everyone = await _all_pages(api, limit=500)
    assert len(everyone) == 12
    for sort in ("score", "-score", "arr", "-arr", "renewal_date"):
        paged = await _all_pages(api, sort=sort, limit=2)
        assert len(paged) == 12 and len({a["account_id"] for a in paged}) == 12, sort
        column = sort.lstrip("-")
        known = [a for a in paged if a[column] is not None]
        values = [float(str(a[column])) if column != "renewal_date" else a[column] for a in known]
        assert values == sorted(values, reverse=sort.startswith("-")), sort  # type: ignore[type-var]
        assert all(a[column] is None for a in paged[len(known):]), f"{sort}: missing values come last"
    twins = [a for a in await _all_pages(api, sort="score", limit=3) if str(a["account_id"]).startswith("twin-")]
    assert [a["account_id"] for a in twins] == [f"twin-{n}" for n in range(7)], "ties in account id order"
    assert len({a["score"] for a in twins}) == 1

    smb = await _all_pages(api, segment="smb")
    assert {a["account_id"] for a in smb} == {f"twin-{n}" for n in range(7)}
    green = await _all_pages(api, grade="green")
    assert green and all(a["grade"] == "green" for a in green)
    score = float(str(twins[0]["score"]))
    banded = await _all_pages(api, min_score=score, max_score=score)
    assert {a["account_id"] for a in banded} >= {f"twin-{n}" for n in range(7)}

    for params, status in (({"sort": "name"}, 422), ({"limit": 501}, 422), ({"limit": 0}, 422),
                           ({"min_score": -1}, 422), ({"grade": "blue"}, 422),
                           ({"min_score": 80, "max_score": 20}, 400), ({"cursor": "not-a-cursor"}, 400)):
        reply = await api.http.get("/v1/accounts", params=params)
        assert reply.status_code == status, params
        assert reply.json()["error"]["status"] == status
    cursor = (await api.http.get("/v1/accounts", params={"sort": "arr", "limit": 1})).json()["next_cursor"]
    assert (await api.http.get("/v1/accounts", params={"sort": "score", "cursor": cursor})).status_code == 400


async def test_overrides_show_beside_the_score_survive_a_recompute_and_expire_visibly(api: Health) -> None:
    until = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    body = {"value": "red", "reason": "CFO told us they are evaluating a competitor", "expires_at": until}
    reply = await api.http.put("/v1/accounts/twin-0/overrides/grade", json=body, headers=WRITER)
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "active" and reply.json()["set_by"] == "writer"
    sentiment = {"value": 10, "reason": "angry escalation call", "expires_at": until}
    assert (await api.http.put("/v1/accounts/twin-0/overrides/sentiment", json=sentiment,
                               headers=WRITER)).status_code == 200

    await api.service.rescorer.rescore_due(as_of=at(61))  # a recompute must not wipe them
    health = (await api.http.get("/v1/accounts/twin-0/health")).json()
    assert health["effective"]["grade"] == "red" and health["effective"]["overridden"] is True
    assert health["effective"]["score"] < health["score"]
    assert {o["kind"] for o in health["overrides"]} == {"grade", "sentiment"}
    assert len(health["effective"]["notes"]) == 2
    listed = {a["account_id"]: a for a in await _all_pages(api, segment="smb")}
    assert listed["twin-0"]["effective_grade"] == "red" and listed["twin-1"]["effective_grade"] == "green"

    async with api.service.runtime.engine.begin() as conn:  # let the grade override run out
        await conn.execute(sa.text(f'UPDATE "{api.schema}".overrides SET expires_at = now() - interval \'1 day\' '
                                   "WHERE account_id = 'twin-0' AND kind = 'grade'"))
    health = (await api.http.get("/v1/accounts/twin-0/health")).json()
    statuses = {o["kind"]: o["status"] for o in health["overrides"]}
    assert statuses == {"grade": "expired", "sentiment": "active"}
    assert health["effective"]["grade"] != "red" or health["grade"] == "red"
    assert any("expired" in note for note in health["effective"]["notes"])

    assert (await api.http.delete("/v1/accounts/twin-0/overrides/grade", headers=WRITER)).status_code == 204
    assert (await api.http.delete("/v1/accounts/twin-0/overrides/grade", headers=WRITER)).status_code == 404
    invalid = [({"value": "purple", "reason": "x", "expires_at": until}, "grade"),
               ({"value": 150, "reason": "x", "expires_at": until}, "sentiment"),
               ({"value": "red", "reason": "x", "expires_at": "2020-01-01T00:00:00Z"}, "grade"),
               ({"value": "red", "reason": "x", "expires_at": "2030-01-01T00:00:00"}, "grade"),
               ({"value": "red", "reason": "", "expires_at": until}, "grade")]
    for payload, kind in invalid:
        reply = await api.http.put(f"/v1/accounts/twin-1/overrides/{kind}", json=payload, headers=WRITER)
        assert reply.status_code == 422, payload
    assert (await api.http.put("/v1/accounts/twin-1/overrides/mood", json=body, headers=WRITER)).status_code == 422
    assert (await api.http.put("/v1/accounts/nobody/overrides/grade", json=body, headers=WRITER)).status_code == 404


async def test_alerts_are_listed_filtered_paginated_and_acknowledged(api: Health) -> None:
    everything = (await api.http.get("/v1/alerts", params={"limit": 500})).json()["items"]
    assert everything and {a["status"] for a in everything} <= {"open", "resolved"}
    champion = (await api.http.get("/v1/alerts", params={"kind": "champion_left", "status": "open"})).json()
    assert [a["account_id"] for a in champion["items"]] == ["leaving"]
    alert = champion["items"][0]
    assert alert["reasons"] and alert["arr_at_risk"] == "120000" and alert["acknowledged"] is False
    mine = (await api.http.get("/v1/alerts", params={"account_id": "leaving"})).json()["items"]
    assert mine and {a["account_id"] for a in mine} == {"leaving"}

    ids, cursor = [], None
    while True:
        page = (await api.http.get("/v1/alerts", params={"limit": 1, **({"cursor": cursor} if cursor else {})}))
        ids += [a["alert_id"] for a in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert ids == [a["alert_id"] for a in everything]

    acked = await api.http.post(f"/v1/alerts/{alert['alert_id']}/ack", json={"note": "called the new VP"},
                                headers=WRITER)
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged"] is True and acked.json()["acknowledged_note"] == "called the new VP"
    assert acked.json()["acknowledged_by"] == "writer", "the key's name, never a piece of its secret"
    again = (await api.http.get(f"/v1/alerts/{alert['alert_id']}")).json()
    assert again["acknowledged_at"] is not None and again["status"] == "open"
    assert (await api.http.post("/v1/alerts/unknown/ack", json={}, headers=WRITER)).status_code == 404
    assert (await api.http.get("/v1/alerts", params={"severity": "dire"})).status_code == 422


async def test_every_endpoint_needs_a_key_and_writes_need_the_write_scope(api: Health) -> None:
    reads = ["/v1/accounts", "/v1/accounts/trending/health", "/v1/accounts/trending/health/history",
             "/v1/alerts", "/v1/scorecards", "/v1/scorecards/default/versions"]
    for path in reads:
        assert (await api.http.get(path, headers={"Authorization": ""})).status_code == 401, path
        assert (await api.http.get(path, headers={"Authorization": "Bearer wrong"})).status_code == 401, path
        assert (await api.http.get(path, headers={"Authorization": "Bearer ingest-key"})).status_code == 403, path
    reply = await api.http.get("/v1/accounts", headers={"Authorization": ""})
    assert reply.json()["error"]["code"] == "unauthorized" and reply.headers["www-authenticate"] == "Bearer"
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    writes = [("PUT", "/v1/scorecards/default", {"weights": {"usage": 1}}),
              ("PUT", "/v1/accounts/twin-2/overrides/grade", {"value": "red", "reason": "r", "expires_at": expires}),
              ("DELETE", "/v1/accounts/twin-2/overrides/grade", None),
              ("POST", "/v1/alerts/x/ack", {})]
    for method, path, body in writes:
        reply = await api.http.request(method, path, json=body)  # the read-only key
        assert reply.status_code == 403, (method, path)
        reply = await api.http.request(method, path, json=body, headers={"Authorization": ""})
        assert reply.status_code == 401, (method, path)
    spec = (await api.http.get("/openapi.json")).json()
    assert "/v1/accounts/{account_id}/health" in spec["paths"] and "AccountHealth" in spec["components"]["schemas"]
