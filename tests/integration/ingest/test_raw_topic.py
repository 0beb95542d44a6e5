"""The raw-topic path against the real broker and database: routing, dead letters, de-duplication."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from shared.events import EVENT_TYPES, parse_event
from tests.integration.ingest.harness import Ingest, event_ids
from tests.kafka_utils import committed_offsets, read_all, wait_for
from tests.unit.ingest.factories import DROP, KIND_BY_TYPE, make_event

pytestmark = pytest.mark.integration


def _raw(event: dict[str, object]) -> tuple[str, bytes]:
    return str(event.get("account_id", "none")), orjson.dumps(event)


async def test_valid_events_of_every_type_are_routed_from_the_raw_topic_keyed_by_account(ingest: Ingest) -> None:
    events = [make_event(t, account_id=f"acct-{i}") for i, t in enumerate(sorted(EVENT_TYPES))]
    await ingest.produce_raw(_raw(e) for e in events)

    expected = {kind: [e for e in events if KIND_BY_TYPE[e["type"]] == kind] for kind in ("usage", "interaction",
                                                                                           "contract")}
    for kind, wanted in expected.items():
        records = await ingest.wait_for_records(ingest.topics.canonical(kind), len(wanted))
        by_id = {orjson.loads(r.value)["event_id"]: r for r in records}
        assert sorted(by_id) == sorted(e["event_id"] for e in wanted) and len(records) == len(wanted)
        for event in wanted:
            record = by_id[event["event_id"]]
            assert record.key.decode() == event["account_id"]
            assert parse_event(record.value) == parse_event(event)


async def test_every_kind_of_bad_record_goes_to_the_dlq_with_its_reason_and_original_bytes(ingest: Ingest) -> None:
    too_large = make_event()
    too_large["data"]["padding"] = "x" * (1024 * 1024)
    bad = {
        "bad_json": ("acct-1", b'{"event_id": "e1", "type": '),
        "not_utf8": ("acct-1", b"\xff\xfe{}"),
        "bad_envelope": _raw(make_event(account_id=DROP)),
        "unknown_type": _raw(make_event(type="usage.teleported")),
        "too_large": _raw(too_large),
        "future": _raw(make_event(occurred_at=(datetime.now(UTC) + timedelta(days=1)).isoformat())),
    }
    good = make_event()
    await ingest.produce_raw([*bad.values(), _raw(good)])

    dead = await ingest.wait_for_records(ingest.topics.dlq, len(bad))
    assert len(dead) == len(bad)
    letters = {base64.b64decode(orjson.loads(r.value)["original_base64"]): orjson.loads(r.value) for r in dead}
    expected_error = {
        "bad_json": "invalid_json",
        "not_utf8": "invalid_utf8",
        "bad_envelope": "account_id",
        "unknown_type": "usage.teleported",
        "too_large": "payload_too_large",
        "future": "future_timestamp",
    }
    for name, (key, original) in bad.items():
        letter = letters[original]
        assert expected_error[name] in letter["error"], (name, letter["error"])
        assert letter["error_kind"] == "validation"
        assert (letter["source_topic"], letter["service"]) == (ingest.topics.raw, ingest.settings.service_name)
        assert letter["partition"] is not None and letter["offset"] is not None
        assert letter["key"] == key and letter["original_size"] == len(original)
    assert letters[bad["too_large"][1]]["original"] is None, "only base64 for a large original"
    assert letters[bad["bad_json"][1]]["original"] == bad["bad_json"][1].decode()

    assert event_ids(await ingest.wait_for_records(ingest.topics.usage, 1)) == [good["event_id"]]

    async def all_committed() -> bool:
        offsets = await committed_offsets(ingest.bootstrap, f"orchard-{ingest.settings.service_name}",
                                          ingest.topics.raw)
        return sum(offsets.values()) == len(bad) + 1

    await wait_for(all_committed, timeout=10, what="the raw topic's offsets committed past every record")


async def test_the_same_event_id_twice_on_the_raw_topic_is_routed_once(ingest: Ingest) -> None:
    event = make_event()
    changed = {**event, "data": {"feature": "something else"}}
    later = make_event()
    await ingest.produce_raw([_raw(event), _raw(changed)])
    await ingest.produce_raw([_raw(event), _raw(later)])  # a later batch: caught by the stored ids

    records = await ingest.wait_for_records(ingest.topics.usage, 2)
    assert sorted(event_ids(records)) == sorted([event["event_id"], later["event_id"]])
    first = next(r for r in records if orjson.loads(r.value)["event_id"] == event["event_id"])
    assert orjson.loads(first.value)["data"]["feature"] == "reports.export", "the first occurrence wins"
    assert await read_all(ingest.bootstrap, ingest.topics.dlq) == []
