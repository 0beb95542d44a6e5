"""Every /v1 operation of the four services, read from their OpenAPI documents: NUL characters in any
path segment, query parameter or body string are a 422 naming the place (they used to reach
PostgreSQL and fail with a 500); authentication comes before the body is even read; every write
body has a size limit (413); the expensive scorecard endpoints need the write scope and run a
bounded number at once (429 with Retry-After)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from services.health.api.context import EXPENSIVE_AT_ONCE, HealthContext
from shared.guards import ApiRoute
from tests.integration.api.conftest import SERVICES, Apis
from tests.services import INGEST_WRITER, READER, WRITER

pytestmark = pytest.mark.integration

NUL = "a\x00b"
SCORECARD = {
    "weights": {"usage": 30, "engagement": 20, "sentiment": 20, "support": 15, "relationship": 15},
    "thresholds": {"green_enter": 70, "green_exit": 65, "red_enter": 40, "red_exit": 45},
    "missing_data": "exclude",
}
EVENT = {"event_id": "evt-1", "type": "usage.recorded", "schema_version": 1, "account_id": "acct-i",
         "occurred_at": "2026-11-20T09:30:00Z", "source": "telemetry", "data": {"feature": "reports"}}
BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/v1/accounts/{account_id}/overrides/{kind}"):
        {"value": "red", "reason": "called them", "expires_at": "2099-01-01T00:00:00Z"},
    ("POST", "/v1/alerts/{alert_id}/ack"): {"note": "on it"},
    ("POST", "/v1/alerts/{alert_id}/snooze"): {"until": "2099-01-01T00:00:00Z"},
    ("POST", "/v1/alerts/{alert_id}/assign"): {"assignee": "kim@example.com"},
    ("PUT", "/v1/scorecards/{segment}"): SCORECARD,
    ("POST", "/v1/scorecards/{segment}/preview"): SCORECARD,
    ("PATCH", "/v1/renewals/{renewal_id}"): {"stage": "in_progress", "owner": "ann", "notes": "call"},
    ("PATCH", "/v1/opportunities/{opportunity_id}"): {"stage": "qualified", "owner": "ann", "notes": "call"},
    ("POST", "/v1/events"): EVENT,
}
"""A valid body for every operation that takes one (the test fails for an operation missing here)."""
KEYS = {"ingest": INGEST_WRITER, "health": WRITER, "renewals": WRITER, "expansion": WRITER}
"""A key with every scope the service's endpoints need."""
SCOPELESS = {"ingest": READER, "health": INGEST_WRITER, "renewals": INGEST_WRITER, "expansion": INGEST_WRITER}
"""A known key without the scopes of the service's write endpoints."""


def operations(apis: Apis, service: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in apis.openapi(service)["paths"].items():
        if path.startswith("/v1/"):
            for method, operation in methods.items():
                yield method.upper(), path, operation


def url(path: str, ids: dict[str, str], **replace: str) -> str:
    for name, value in {**ids, **replace}.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


def string_leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from string_leaves(item, (*path, key))


def with_leaf(value: Any, path: tuple[str, ...], leaf: str) -> Any:
    if not path:
        return leaf
    return {**value, path[0]: with_leaf(value[path[0]], path[1:], leaf)}


def nul_cases(apis: Apis, service: str, text: str = NUL) -> Iterator[tuple[str, str, dict[str, Any], Any, str]]:
    """(method, url, query, body, where) for each place a text (a NUL by default) can go in each operation."""
    for method, path, operation in operations(apis, service):
        body = BODIES.get((method, path))
        for parameter in operation.get("parameters", []):
            name = parameter["name"]
            if parameter["in"] == "path":
                yield method, url(path, apis.ids, **{name: text}), {}, body, f"path.{name}"
            elif parameter["in"] == "query":
                yield method, url(path, apis.ids), {name: text}, body, f"query.{name}"
        # JSON bodies only: ingest judges each event's text itself, and a backtest's JSON Lines are
        # validated by the backtest and never stored.
        if "application/json" in operation.get("requestBody", {}).get("content", {}) and service != "ingest":
            for leaf in string_leaves(body):
                yield method, url(path, apis.ids), {}, with_leaf(body, leaf, text), ".".join(("body", *leaf))
            # Keys are text too: a scorecard's weights are a free-form mapping stored as jsonb.
            yield method, url(path, apis.ids), {}, {**body, text: 1}, "body."


@pytest.fixture
async def clients(apis: Apis) -> AsyncIterator[dict[str, Any]]:
    opened = {name: apis.client(name) for name in SERVICES}
    yield opened
    for client in opened.values():
        await client.aclose()


@pytest.mark.parametrize("service", ("health", "renewals", "expansion"))
async def test_a_nul_anywhere_in_a_request_is_a_422_that_says_where(
    apis: Apis, clients: dict[str, Any], service: str
) -> None:
    cases = list(nul_cases(apis, service))
    missing = [(m, p) for m, p, o in operations(apis, service)
               if "application/json" in o.get("requestBody", {}).get("content", {}) and (m, p) not in BODIES]
    assert not missing, f"give these operations a valid body in BODIES: {missing}"
    wrong = []
    for method, target, query, body, where in cases:
        reply = await clients[service].request(method, target, params=query, json=body, headers=KEYS[service])
        error = reply.json().get("error", {}) if reply.headers.get("content-type") == "application/json" else {}
        details = error.get("details") or [{}]
        if (reply.status_code, details[0].get("type")) != (422, "null_character") or not str(
                details[0].get("loc", "")).startswith(where):
            wrong.append((method, target, query, where, reply.status_code, reply.text[:200]))
    assert cases and not wrong, "\n".join(map(str, wrong))


INJECTIONS = ("' OR '1'='1", "x'); DROP TABLE accounts; --", "<script>alert(1)</script>", "${jndi:ldap://127.0.0.1/a}",
              "{{7*7}}", "../../etc/passwd", "\u202e\ufeff\U0001f600")


@pytest.mark.parametrize("service", ("health", "renewals", "expansion"))
async def test_injection_strings_anywhere_in_a_request_are_plain_text_never_a_5xx(
    apis: Apis, clients: dict[str, Any], service: str
) -> None:
    """SQL, markup, template, lookup and path strings in every path segment, query parameter and body
    string (and key) of every operation: each answer is a 2xx or a clear 4xx, never a 5xx; some are
    accepted (the text is stored as text: parameters are bound, never spliced), and the service
    still answers afterwards."""
    answers: dict[int, int] = {}
    failed = []
    for text in INJECTIONS:
        for method, target, query, body, where in nul_cases(apis, service, text):
            reply = await clients[service].request(method, target, params=query, json=body, headers=KEYS[service])
            answers[reply.status_code] = answers.get(reply.status_code, 0) + 1
            if reply.status_code >= 500 or (reply.status_code >= 400 and "error" not in reply.json()):
                failed.append((method, target, query, where, text, reply.status_code, reply.text[:200]))
    assert not failed, "\n".join(map(str, failed))
    assert any(200 <= status < 300 for status in answers), answers
    assert (await clients[service].get("/v1/alerts" if service == "health" else "/readyz",
                                        headers=KEYS[service])).status_code == 200


async def test_ingest_rejects_a_nul_per_event_and_accepts_the_rest(clients: dict[str, Any]) -> None:
    bad = {**EVENT, "event_id": "evt-nul", "data": {"feature": NUL}}
    reply = await clients["ingest"].post("/v1/events", json={"events": [bad]}, headers=INGEST_WRITER)
    assert reply.status_code == 202, reply.text
    (rejected,) = reply.json()["rejected"]
    assert rejected["errors"][0]["type"] == "null_character" and rejected["errors"][0]["loc"] == "data.feature"


@pytest.mark.parametrize("service", SERVICES)
async def test_authentication_comes_before_the_body_is_read(
    apis: Apis, clients: dict[str, Any], service: str
) -> None:
    """Malformed, oversized or NUL-bearing: without a key it is 401, with a key lacking the scope 403."""
    writes = [(m, p) for m, p, o in operations(apis, service) if "requestBody" in o]
    assert writes
    for method, path in writes:
        target = url(path, apis.ids)
        for content in (b"{not json", b'{"note": "' + b"x" * 2_000_000 + b'"}', orjson.dumps({"notes": NUL})):
            headers = {"content-type": "application/json"}
            anonymous = await clients[service].request(method, target, content=content, headers=headers)
            assert anonymous.status_code == 401, (method, path, anonymous.text[:200])
            assert anonymous.json()["error"]["code"] == "unauthorized"
            scopeless = await clients[service].request(method, target, content=content,
                                                       headers={**headers, **SCOPELESS[service]})
            assert scopeless.status_code == 403, (method, path, scopeless.text[:200])
        assert (await clients[service].request(method, url(path, apis.ids, **dict.fromkeys(apis.ids, NUL))
                                               )).status_code == 401


def _write_routes(apis: Apis, service: str) -> list[ApiRoute]:
    found: list[ApiRoute] = []
    for route in apis.apps[service].routes:
        # FastAPI keeps an included router whole (its routes are reached through it).
        included = getattr(route, "original_router", None)
        found += [route] if included is None else included.routes
    return [r for r in found if isinstance(r, ApiRoute) and r.methods & {"POST", "PUT", "PATCH"}]


@pytest.mark.parametrize("service", SERVICES)
async def test_every_write_body_has_a_limit_enforced_before_parsing(
    apis: Apis, clients: dict[str, Any], service: str
) -> None:
    routes = _write_routes(apis, service)
    assert routes
    spec = apis.openapi(service)
    for route in routes:
        (method,) = route.methods
        assert route.body_limit is not None and route.body_limit <= 1024 * 1024, route.path
        assert "413" in spec["paths"][route.path][method.lower()]["responses"], route.path
        target = url(route.path, apis.ids)
        # Not even JSON: refused from its length alone, before anything would parse it.
        oversized = b"x" * (route.body_limit + 1)
        declared = await clients[service].request(method, target, content=oversized, headers=KEYS[service])

        async def chunks(body: bytes = oversized) -> AsyncIterator[bytes]:
            for start in range(0, len(body), 16 * 1024):
                yield body[start:start + 16 * 1024]

        chunked = await clients[service].request(method, target, content=chunks(), headers=KEYS[service])
        for reply in (declared, chunked):
            assert reply.status_code == 413, (route.path, reply.text[:200])
            error = reply.json()["error"]
            assert error["code"] == "payload_too_large" and str(route.body_limit) in error["message"]


async def test_scorecard_preview_and_publishing_need_write_and_run_a_bounded_number_at_once(
    apis: Apis, clients: dict[str, Any]
) -> None:
    health = clients["health"]
    preview = "/v1/scorecards/enterprise/preview"
    assert (await health.post(preview, json=SCORECARD, headers=READER)).status_code == 403
    assert (await health.post(preview, json=SCORECARD, headers=WRITER)).status_code == 200
    limit = apis.apps["health"].state.health
    assert isinstance(limit, HealthContext)
    release = asyncio.Event()
    entered = asyncio.Semaphore(0)

    async def occupy() -> None:
        async with limit.expensive.slot():
            entered.release()
            await release.wait()

    holders = [asyncio.create_task(occupy()) for _ in range(EXPENSIVE_AT_ONCE)]
    for _ in holders:
        await entered.acquire()
    try:
        for method, path in (("POST", preview), ("PUT", "/v1/scorecards/enterprise")):
            refused = await health.request(method, path, json=SCORECARD, headers=WRITER)
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["retry-after"]) > 0
            assert refused.json()["error"]["code"] == "too_many_requests"
    finally:
        release.set()
        await asyncio.gather(*holders)
    assert (await health.post(preview, json=SCORECARD, headers=WRITER)).status_code == 200
    spec = apis.openapi("health")["paths"]
    assert "429" in spec["/v1/scorecards/{segment}/preview"]["post"]["responses"]
    assert "429" in spec["/v1/scorecards/{segment}"]["put"]["responses"]


@pytest.mark.parametrize(("service", "path"), [("health", "/v1/alerts"), ("renewals", "/v1/renewals"),
                                               ("expansion", "/v1/opportunities")])
async def test_an_unknown_or_repeated_query_parameter_is_refused_not_ignored(
    clients: dict[str, Any], service: str, path: str
) -> None:
    """Found by fuzzing: `?stagee=won` (a typo) answered 200 with every item, as if unfiltered."""
    http = clients[service]
    assert (await http.get(path, params={"limit": 5}, headers=KEYS[service])).status_code == 200
    typo = await http.get(path, params={"limit": 5, "stagee": "won"}, headers=KEYS[service])
    detail = typo.json()["error"]["details"][0]
    assert (typo.status_code, detail["loc"], detail["type"]) == (422, "query.stagee", "unknown_parameter")
    twice = await http.get(f"{path}?limit=5&limit=7", headers=KEYS[service])
    assert (twice.status_code, twice.json()["error"]["details"][0]["type"]) == (422, "repeated_parameter")
