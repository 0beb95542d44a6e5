"""Contract events: payload-level rejections (size, JSON, UTF-8, NUL, nesting) and the error object."""

from __future__ import annotations

import pickle
import random
from decimal import Decimal
from typing import Any

import orjson
import pytest

from shared.events import (
    EventValidationError,
    TicketOpened,
    envelope_to_json,
    parse_event,
)
from tests.unit.events.examples import GOOD_DATA, MISSING, assert_single_error, make_event, rejection, with_data

pytestmark = pytest.mark.unit


# --- payload-level rejections ------------------------------------------------------------------


def test_oversized_bytes_are_rejected_before_parsing() -> None:
    raw = orjson.dumps(make_event())
    assert parse_event(raw, max_bytes=len(raw)).event_id == "evt-1"

    error = rejection(raw + b" ", max_bytes=len(raw))
    assert_single_error(error, "", "payload_too_large")
    assert error.event_id is None


def test_default_size_limit_is_one_mebibyte() -> None:
    padding = 1_048_576 - len(orjson.dumps(make_event()))
    assert_single_error(rejection(orjson.dumps(make_event()) + b" " * (padding + 1)), "", "payload_too_large")


def test_oversized_str_is_measured_in_utf8_bytes() -> None:
    raw = orjson.dumps(make_event("usage.recorded", {"feature": "é" * 100})).decode()
    limit = len(raw) + 50
    assert len(raw.encode()) > limit
    assert_single_error(rejection(raw, max_bytes=limit), "", "payload_too_large")


def test_oversized_mapping_is_rejected() -> None:
    assert_single_error(rejection(make_event(), max_bytes=50), "", "payload_too_large")


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b'{"event_id": "e",}', b"{'event_id': 'e'}", b'{"quantity": NaN}', b'{"a": "\\ud800"}', "{"],
    ids=["empty", "truncated", "trailing-comma", "single-quotes", "nan", "lone-surrogate-escape", "str-input"],
)
def test_invalid_json_is_rejected(raw: bytes | str) -> None:
    assert_single_error(rejection(raw), "", "invalid_json")


@pytest.mark.parametrize(
    "raw",
    [b'{"event_id": "caf\xe9"}', b"\xff\xfe{}", '{"event_id": "\ud800"}'],
    ids=["latin1-byte", "utf16-bom", "str-with-surrogate"],
)
def test_invalid_utf8_is_rejected(raw: bytes | str) -> None:
    error = rejection(raw)
    assert_single_error(error, "", "invalid_utf8")
    assert "UTF-8" in error.errors[0]["msg"]


@pytest.mark.parametrize(
    "raw",
    [b"[]", b"1", b'"event"', b"null", b"true", [make_event()], 42, None],
    ids=["array", "number", "string", "null", "boolean", "list-object", "int-object", "none-object"],
)
def test_non_object_is_rejected(raw: Any) -> None:
    assert_single_error(rejection(raw), "", "not_an_object")


def test_mapping_with_non_json_values_is_rejected() -> None:
    assert_single_error(rejection(with_data("contract.signed", arr=Decimal("1"))), "", "invalid_json")


def test_nul_character_is_rejected_where_it_is() -> None:
    error = rejection(orjson.dumps(with_data("usage.recorded", feature="reports\x00export")))
    assert_single_error(error, "data.feature", "null_character")


def test_nul_character_is_found_in_deeply_nested_data() -> None:
    raw = b'{"event_id": "evt-1", "data": ' + b'{"x": ' * 1000 + b'"\\u0000"' + b"}" * 1001
    error = rejection(raw)
    assert_single_error(error, "data" + ".x" * 1000, "null_character")


def test_too_deeply_nested_json_is_rejected() -> None:
    assert_single_error(rejection(b"[" * 2000 + b"]" * 2000), "", "invalid_json")


def test_escaped_backslash_before_u0000_is_not_a_nul() -> None:
    env = parse_event(orjson.dumps(with_data("ticket.opened", subject="path C:\\u0000")))
    assert isinstance(env.data, TicketOpened)
    assert env.data.subject == "path C:\\u0000"


FUZZ_VALUES = [
    None, True, 0, -1, 1.5, 1e308, 2**63 - 1, -(2**63), "", " ", "\x00", "x" * 300, [], {}, [1], {"a": 1},
    "2026-01-01", "2026-11-20T09:30:00Z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",
    "NaN", "1e999999", "-0", "é",
]  # fmt: skip


def test_any_input_is_either_an_envelope_or_a_validation_error() -> None:
    # A consumer must never crash on a record: whatever the bytes, parse_event either returns an
    # envelope (that round-trips) or raises EventValidationError.
    rng = random.Random(20261120)
    for _ in range(3000):
        event = make_event(rng.choice(sorted(GOOD_DATA)))
        event["data"] = dict(event["data"])
        target = event if rng.random() < 0.3 else event["data"]
        keys = [*target, "new_role", "start_date", "arr", "currency", "quantity", "score", "kind", "change"]
        for _ in range(rng.randint(1, 3)):
            target[rng.choice(keys)] = rng.choice(FUZZ_VALUES)
        raw = bytearray(orjson.dumps(event))
        if rng.random() < 0.2:
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        try:
            env = parse_event(bytes(raw))
        except EventValidationError as error:
            assert error.errors
        else:
            assert parse_event(envelope_to_json(env)) == env


# --- the error object --------------------------------------------------------------------------


def test_error_summary_is_one_readable_line() -> None:
    error = rejection(with_data("ticket.opened", severity="meh"))
    summary = str(error)
    assert "\n" not in summary
    assert summary.startswith("event 'evt-1' rejected, 1 error: data.severity: Input should be")
    assert summary.endswith("[literal_error]")


def test_error_summary_is_bounded() -> None:
    bad_everything = {"event_id": 1, "type": 2, "schema_version": "x", "account_id": 3, "occurred_at": 4, "x": 5}
    error = rejection(bad_everything)
    assert len(error.errors) == 7
    assert str(error).endswith("; and 2 more")
    assert error.event_id is None


@pytest.mark.parametrize(
    ("event_id", "readable"),
    [(" evt-7 ", "evt-7"), (7, None), ("", None), ("e" * 129, None), (MISSING, None)],
    ids=["trimmed", "number", "empty", "too-long", "missing"],
)
def test_error_carries_event_id_when_readable(event_id: Any, readable: str | None) -> None:
    error = rejection(make_event(event_id=event_id, account_id=""))
    assert error.event_id == readable


def test_error_survives_pickling() -> None:
    error = rejection(with_data("ticket.opened", severity="meh"))
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.errors, copy.event_id, str(copy)) == (error.errors, error.event_id, str(error))


def test_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_event(b"{")
