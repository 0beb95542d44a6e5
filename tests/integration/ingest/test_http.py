"""POST /v1/events against the real broker and database: routing, errors, limits, auth, durability."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.events import EVENT_TYPES, parse_event
from tests.infra import Infra
from tests.integration.ingest.harness import WRITER, Ingest, event_ids, running, settings_for
from tests.kafka_utils import read_all
from tests.proxy import database_proxy
from tests.unit.ingest.factories import DROP, KIND_BY_TYPE, make_event

pytestmark = pytest.mark.integration


async def test_valid_events_of_every_type_reach_their_canonical_topic_keyed_by_account(ingest: Ingest) -> None:
    events = [make_event(t, account_id=f"acct-{i}") for i, t in enumerate(sorted(EVENT_TYPES))]
    reply = await ingest.post({"events": events})
    assert reply.status_code == 202
    assert reply.json() == {"accepted": len(events), "duplicates": 0, "rejected": []}

    # The reply came after the acks: everything is readable at once, no waiting.
    on_topics = await ingest.canonical()
    for event in events:
        kind = KIND_BY_TYPE[event["type"]]
        (record,) = [r for r in on_topics[kind] if orjson.loads(r.value)["event_id"] == event["event_id"]]
        assert record.key.decode() == event["account_id"]
        assert parse_event(record.value) == parse_event(event)
        assert dict(record.headers)["event_id"] == event["event_id"].encode()
    assert sum(len(records) for records in on_topics.values()) == len(events)


async def test_one_envelope_alone_is_accepted_and_normalised(ingest: Ingest) -> None:
    event = make_event("usage.recorded", occurred_at="2026-11-20T11:30:00+02:00", account_id=" acct-7 ")
    reply = await ingest.post(event)
    assert (reply.status_code, reply.json()) == (202, {"accepted": 1, "duplicates": 0, "rejected": []})
    (record,) = await read_all(ingest.bootstrap, ingest.topics.usage)
    value = orjson.loads(record.value)
    assert (record.key, value["account_id"], value["occurred_at"]) == (b"acct-7", "acct-7", "2026-11-20T09:30:00Z")


async def test_bad_events_are_rejected_with_field_errors_and_good_ones_still_accepted(ingest: Ingest) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    good = make_event()
    batch = [
        make_event(type="usage.invented"),
        make_event(occurred_at="2026-11-20T09:30:00"),  # no offset
        make_event("survey.answered", data={"kind": "nps", "score": 11}),
        make_event(account_id=DROP),
        make_event(occurred_at=future),
        "not an event",
        good,
    ]
    reply = await ingest.post({"events": batch})
    assert reply.status_code == 202
    body = reply.json()
    assert (body["accepted"], body["duplicates"]) == (1, 0)
    by_index = {r["index"]: r for r in body["rejected"]}
    assert sorted(by_index) == [0, 1, 2, 3, 4, 5]
    first_error = {i: (r["errors"][0]["loc"], r["errors"][0]["type"]) for i, r in by_index.items()}
    assert first_error == {
        0: ("type", "unknown_event_type"),
        1: ("occurred_at", "timestamp_without_offset"),
        2: ("data.score", "score_out_of_range"),
        3: ("account_id", "missing"),
        4: ("occurred_at", "future_timestamp"),
        5: ("", "not_an_object"),
    }
    assert by_index[0]["event_id"] == batch[0]["event_id"] and by_index[5]["event_id"] is None
    assert all(e["msg"] for r in body["rejected"] for e in r["errors"]), "every error says what is wrong"
    assert event_ids(await read_all(ingest.bootstrap, ingest.topics.usage)) == [good["event_id"]]


@pytest.mark.parametrize(
    ("body", "error_type"),
    [(b"{not json", "invalid_json"), (b"", "empty_body"), (b"[1, 2]", "not_an_object"),
     (b'{"events": "all of them"}', "not_an_array")],
)
async def test_an_unusable_body_is_400_with_the_standard_error_body(
    ingest: Ingest, body: bytes, error_type: str
) -> None:
    reply = await ingest.http.post("/v1/events", content=body, headers=WRITER)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert (error["status"], error["code"], error["details"][0]["type"]) == (400, "bad_request", error_type)
    assert error["message"]


async def test_1001_events_are_refused_with_413_and_nothing_is_accepted(ingest: Ingest) -> None:
    reply = await ingest.post({"events": [make_event() for _ in range(1001)]})
    assert reply.status_code == 413
    assert reply.json()["error"]["code"] == "payload_too_large" and "1001" in reply.json()["error"]["message"]
    assert await read_all(ingest.bootstrap, ingest.topics.usage) == []
    assert (await ingest.post({"events": [make_event() for _ in range(1000)]})).json()["accepted"] == 1000


async def test_a_2_mib_body_is_refused_with_413_whether_its_length_is_declared_or_not(ingest: Ingest) -> None:
    body = orjson.dumps({"events": [make_event(source="x" * 100) for _ in range(7000)]})
    assert len(body) > 2 * 1024 * 1024
    declared = await ingest.http.post("/v1/events", content=body, headers=WRITER)
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    chunked = await ingest.http.post("/v1/events", content=chunks(), headers=WRITER)
    assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "payload_too_large"
    assert await read_all(ingest.bootstrap, ingest.topics.usage) == []


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [({}, 401, "unauthorized"), ({"Authorization": "Bearer nope"}, 401, "unauthorized"),
     ({"Authorization": "Basic d3JpdGVyLWtleTo="}, 401, "unauthorized"),
     ({"Authorization": "Bearer reader-key"}, 403, "forbidden")],
)
async def test_a_missing_or_wrong_key_is_401_and_a_key_without_the_scope_403(
    ingest: Ingest, headers: dict[str, str], status: int, code: str
) -> None:
    reply = await ingest.http.post("/v1/events", content=orjson.dumps(make_event()), headers=headers)
    assert (reply.status_code, reply.json()["error"]["code"]) == (status, code)
    assert await read_all(ingest.bootstrap, ingest.topics.usage) == []


async def test_concurrent_requests_with_the_same_id_accept_it_once(ingest: Ingest) -> None:
    event = make_event()
    replies = await asyncio.gather(*(ingest.post(event) for _ in range(8)))
    assert sorted(r.json()["accepted"] for r in replies) == [0] * 7 + [1]
    assert event_ids(await read_all(ingest.bootstrap, ingest.topics.usage)) == [event["event_id"]]


async def test_when_kafka_refuses_the_request_is_503_and_the_retry_is_not_a_duplicate(
    infra: Infra, schema: str, unique: str
) -> None:
    settings = settings_for(infra, schema=schema, unique=unique, ingest_produce_timeout_s=5)
    # The broker refuses records over 1,000 bytes on this topic: a real produce failure, acks never come.
    await _create_topic_with(infra.kafka_bootstrap, settings.topics.interaction, {"max.message.bytes": "1000"})
    event = make_event("interaction.logged", data={"channel": "call", "summary": "s" * 1500})
    async with running(settings, consume=False) as ingest:
        refused = await ingest.post(event)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "unavailable"

        await _alter_topic(infra.kafka_bootstrap, settings.topics.interaction, {"max.message.bytes": "2097152"})
        for _ in range(50):  # the client retries until the broker has taken the new limit
            retried = await ingest.post(event)
            if retried.status_code != 503:
                break
            await asyncio.sleep(0.2)
        assert (retried.status_code, retried.json()) == (202, {"accepted": 1, "duplicates": 0, "rejected": []})
        assert event_ids(await read_all(ingest.bootstrap, settings.topics.interaction)) == [event["event_id"]]


async def test_when_the_database_is_down_the_request_is_503_and_accepted_once_it_is_back(
    infra: Infra, schema: str, unique: str
) -> None:
    proxy, through_proxy = await database_proxy(infra.database_url)
    settings = settings_for(infra, schema=schema, unique=unique, database_url=through_proxy)
    event = make_event()
    try:
        async with running(settings, consume=False) as ingest:
            proxy.cut()
            refused = await ingest.post(event)
            assert (refused.status_code, refused.json()["error"]["code"]) == (503, "unavailable")
            proxy.restore()
            retried = await _post_until_not_503(ingest, event)
            assert (retried.status_code, retried.json().get("accepted")) == (202, 1), retried.text
            assert event_ids(await read_all(ingest.bootstrap, settings.topics.usage)) == [event["event_id"]]
    finally:
        await proxy.close()


async def _post_until_not_503(ingest: Ingest, event: dict[str, object], attempts: int = 20) -> httpx.Response:
    """Retry as a client told "503: retry" does: on a loaded machine the first request after the
    database is back can still meet a slow Kafka acknowledgement or a connection being replaced."""
    for _ in range(attempts - 1):
        reply = await ingest.post(event)
        if reply.status_code != 503:
            return reply
        await asyncio.sleep(0.5)
    return await ingest.post(event)


async def test_metrics_count_accepted_duplicates_and_rejections_by_reason(ingest: Ingest) -> None:
    event = make_event()
    await ingest.post({"events": [event, event, make_event(type="usage.invented")]})
    text = (await ingest.http.get("/metrics")).text
    assert f'orchard_ingest_accepted_total{{path="http",topic="{ingest.topics.usage}"}}' in text
    assert 'orchard_ingest_rejected_total{path="http",reason="unknown_event_type"}' in text
    assert 'orchard_ingest_duplicates_total{path="http"}' in text
    assert 'orchard_ingest_produce_seconds_bucket{le="0.1",path="http"}' in text


async def test_openapi_documents_the_endpoint(ingest: Ingest) -> None:
    spec = (await ingest.http.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/events"]["post"]
    assert {"202", "400", "401", "403", "413", "503"} <= set(operation["responses"])
    assert "requestBody" in operation


async def _create_topic_with(bootstrap: str, name: str, configs: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1, topic_configs=configs)])
    finally:
        await admin.close()


async def _alter_topic(bootstrap: str, name: str, configs: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, configs=configs)])
    finally:
        await admin.close()

