"""Ingest's pure rules: request shapes, per-event judgement, routing, the skew rule, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from services.ingest.domain import (
    CheckedBatch,
    Limits,
    RequestRejected,
    check_batch,
    check_event,
    rejection_reason,
    request_events,
)
from services.ingest.settings import IngestSettings
from shared.events import EVENT_TYPES, EventValidationError, parse_event
from shared.settings import TopicSettings
from tests.unit.ingest.factories import DROP, KIND_BY_TYPE, make_event

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
LIMITS = Limits(
    max_body_bytes=1_048_576, max_event_bytes=1_048_576, max_events_per_request=1000,
    max_future_skew=timedelta(minutes=5),
)
TOPICS = TopicSettings()


def _batch(*events: Any, limits: Limits = LIMITS) -> CheckedBatch:
    return check_batch(list(events), now=NOW, limits=limits, topics=TOPICS)


def _body(document: Any) -> bytes:
    return orjson.dumps(document)


def _refusal(body: bytes, max_events: int = 1000) -> RequestRejected:
    with pytest.raises(RequestRejected) as caught:
        request_events(body, max_events=max_events)
    return caught.value


def test_one_envelope_is_a_request_of_one() -> None:
    event = make_event()
    assert request_events(_body(event), max_events=1000) == [event]


def test_a_batch_holds_its_events_up_to_the_limit() -> None:
    events = [make_event() for _ in range(1000)]
    assert request_events(_body({"events": events}), max_events=1000) == events
    assert request_events(_body({"events": []}), max_events=1000) == []


def test_one_event_over_the_batch_limit_is_413() -> None:
    refusal = _refusal(_body({"events": [make_event() for _ in range(1001)]}))
    assert (refusal.status, refusal.error_type) == (413, "too_many_events")
    assert "1001" in refusal.message and "1000" in refusal.message


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (b"", "empty_body"),
        (b"  \n", "empty_body"),
        (b"{not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[]", "not_an_object"),
        (b'"text"', "not_an_object"),
        (b'{"events": {}}', "not_an_array"),
        (b'{"events": [], "extra": 1}', "unexpected_keys"),
    ],
)
def test_an_unusable_body_is_400_with_a_reason(body: bytes, error_type: str) -> None:
    refusal = _refusal(body)
    assert (refusal.status, refusal.error_type) == (400, error_type)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_type_is_routed_to_its_canonical_topic_keyed_by_account(event_type: str) -> None:
    event = make_event(event_type, account_id="  acct-9 ")
    checked = _batch(event)
    assert checked.rejected == [] and checked.repeats == 0
    (route,) = checked.routes
    assert route.topic == TOPICS.canonical(KIND_BY_TYPE[event_type])
    assert (route.key, route.event_id, route.event_type) == ("acct-9", event["event_id"], event_type)
    assert parse_event(route.value) == parse_event(event), "the value is the normalised envelope"


def test_values_are_normalised() -> None:
    event = make_event(occurred_at="2026-11-20T11:30:00+02:00", source="  crm  ")
    event["data"] = {"feature": "  export ", "quantity": 2}
    value = orjson.loads(_batch(event).routes[0].value)
    assert value["occurred_at"] == "2026-11-20T09:30:00Z"
    assert value["source"] == "crm"
    assert value["data"]["feature"] == "export" and value["data"]["quantity"] == 2


def test_bad_events_are_listed_with_index_id_and_field_errors_and_the_rest_accepted() -> None:
    good = make_event()
    missing_field = make_event(account_id=DROP)
    unknown_type = make_event(type="usage.invented")
    bad_data = make_event("ticket.opened", data={"ticket_id": "T-1", "severity": "apocalyptic"})
    checked = _batch(good, missing_field, 42, unknown_type, bad_data)
    assert [r.event_id for r in checked.routes] == [good["event_id"]]
    rejected = {r.index: r for r in checked.rejected}
    assert sorted(rejected) == [1, 2, 3, 4]
    assert rejected[1].event_id == missing_field["event_id"]
    assert (rejected[1].errors[0]["loc"], rejected[1].reason) == ("account_id", "missing")
    assert (rejected[2].event_id, rejected[2].reason) == (None, "not_an_object")
    assert rejected[3].reason == "unknown_event_type"
    assert (rejected[4].errors[0]["loc"], rejected[4].reason) == ("data.severity", "literal_error")


def test_a_repeated_id_in_one_request_is_routed_once() -> None:
    first = make_event()
    again = {**first, "data": {"feature": "other"}}
    checked = _batch(first, make_event(), again)
    assert len(checked.routes) == 2 and checked.repeats == 1
    assert orjson.loads(checked.routes[0].value)["data"]["feature"] == "reports.export", "the first one wins"


def test_future_beyond_the_skew_is_rejected_within_it_accepted() -> None:
    near = make_event(occurred_at=(NOW + timedelta(minutes=5)).isoformat())
    far = make_event(occurred_at=(NOW + timedelta(minutes=5, seconds=1)).isoformat())
    past = make_event(occurred_at=(NOW - timedelta(days=400)).isoformat())
    checked = _batch(near, far, past)
    assert [r.event_id for r in checked.routes] == [near["event_id"], past["event_id"]]
    (rejection,) = checked.rejected
    assert (rejection.index, rejection.reason, rejection.errors[0]["loc"]) == (1, "future_timestamp", "occurred_at")


def test_skew_is_configurable() -> None:
    tight = Limits(max_body_bytes=1 << 20, max_event_bytes=1 << 20, max_events_per_request=10,
                   max_future_skew=timedelta(0))
    with pytest.raises(EventValidationError):
        check_event(orjson.dumps(make_event(occurred_at=(NOW + timedelta(seconds=1)).isoformat())),
                    now=NOW, limits=tight)


def test_an_event_over_the_byte_limit_is_rejected_as_too_large() -> None:
    small = Limits(max_body_bytes=4096, max_event_bytes=2048, max_events_per_request=10,
                   max_future_skew=timedelta(minutes=5))
    big = make_event()
    big["data"]["padding"] = "x" * 3000  # unknown data fields are dropped, but count against the limit
    checked = _batch(big, limits=small)
    assert checked.routes == [] and checked.rejected[0].reason == "payload_too_large"


def test_the_normalised_event_is_held_to_the_limit_too() -> None:
    # Defaults made explicit (currency, auto_renew...) make the canonical JSON larger than the input.
    event = make_event("contract.cancelled", source=DROP)
    size_in = len(orjson.dumps(event))
    tight = Limits(max_body_bytes=4096, max_event_bytes=size_in, max_events_per_request=10,
                   max_future_skew=timedelta(minutes=5))
    checked = _batch(event, limits=tight)
    assert checked.routes == []
    assert checked.rejected[0].reason == "payload_too_large" and "normalised" in checked.rejected[0].errors[0]["msg"]


def test_rejection_reason_is_the_first_error_type() -> None:
    assert rejection_reason([{"loc": "a", "msg": "m", "type": "missing"}, {"loc": "b", "msg": "m", "type": "x"}]) \
        == "missing"
    assert rejection_reason([]) == "invalid"


def test_settings_read_the_ingest_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHARD_INGEST_PORT", "18001")
    monkeypatch.setenv("ORCHARD_INGEST_MAX_FUTURE_SKEW_S", "60")
    settings = IngestSettings()
    assert settings.ingest_port == 18001 and settings.max_future_skew == timedelta(minutes=1)
    assert (settings.service_name, settings.ingest_schema) == ("ingest", "ingest")
    assert (settings.ingest_max_events_per_request, settings.ingest_max_body_bytes) == (1000, 1_048_576)
