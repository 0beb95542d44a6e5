"""Contract events: bad data and bad envelopes are rejected with the field and the reason, and
timestamps too far in the future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from shared.events import (
    parse_event,
)
from tests.unit.events.bad_cases import BAD_CONTRACT_TERMS, BAD_DATA, BAD_ENVELOPES, NO_ACCOUNT_FIELDS
from tests.unit.events.examples import (
    CONTRACT_TERM_TYPES,
    MISSING,
    NOW,
    assert_single_error,
    make_event,
    rejection,
    with_data,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("data", NO_ACCOUNT_FIELDS)
def test_account_updated_needs_a_field_to_set_or_clear(data: dict[str, Any]) -> None:
    error = rejection(orjson.dumps(make_event("account.updated", data)))
    assert_single_error(error, "data", "no_account_fields")
    assert "name, owner, segment, crm_id, tier" in error.errors[0]["msg"]


@pytest.mark.parametrize(("event_type", "changes", "loc", "error_type"), BAD_DATA)
def test_bad_data_is_rejected_with_field_error(
    event_type: str, changes: dict[str, Any], loc: str, error_type: str
) -> None:
    error = rejection(orjson.dumps(with_data(event_type, **changes)))
    assert_single_error(error, loc, error_type)
    assert error.event_id == "evt-1"


@pytest.mark.parametrize(("changes", "loc", "error_type"), BAD_CONTRACT_TERMS)
@pytest.mark.parametrize("event_type", CONTRACT_TERM_TYPES)
def test_bad_contract_terms_are_rejected_with_field_error(
    event_type: str, changes: dict[str, Any], loc: str, error_type: str
) -> None:
    error = rejection(orjson.dumps(with_data(event_type, **changes)))
    assert_single_error(error, loc, error_type)


def test_score_message_names_the_scale() -> None:
    error = rejection(with_data("survey.answered", kind="csat", score=7))
    assert error.errors[0]["msg"] == "csat score must be an integer from 1 to 5; got 7"


def test_every_problem_is_reported_at_once() -> None:
    raw = make_event(
        "ticket.opened",
        {"severity": "meh"},
        account_id="",
        occurred_at="2026-11-20T09:30:00",
    )
    error = rejection(raw)
    assert sorted((e["loc"], e["type"]) for e in error.errors) == [
        ("account_id", "string_too_short"),
        ("data.severity", "literal_error"),
        ("data.ticket_id", "missing"),
        ("occurred_at", "timestamp_without_offset"),
    ]


# --- the envelope ------------------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "loc", "error_type"), BAD_ENVELOPES)
def test_bad_envelope_is_rejected_with_field_error(changes: dict[str, Any], loc: str, error_type: str) -> None:
    assert_single_error(rejection(orjson.dumps(make_event(**changes))), loc, error_type)


def test_naive_timestamp_message_says_what_to_add() -> None:
    error = rejection(make_event(occurred_at="2026-11-20T09:30:00"))
    assert error.errors[0]["msg"] == (
        "timestamp '2026-11-20T09:30:00' has no UTC offset; add 'Z' or '+hh:mm', e.g. 2026-11-20T09:30:00Z"
    )


@pytest.mark.parametrize(
    ("occurred_at", "expected"),
    [
        ("2026-11-20T09:30:00Z", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        ("2026-11-20T15:00:00+05:30", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        ("2026-11-20T01:30:00-08:00", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        ("2026-11-21T00:30:00+15:00", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        ("2026-11-20t09:30:00z", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        ("2026-11-20 09:30:00.123456+00:00", datetime(2026, 11, 20, 9, 30, 0, 123456, tzinfo=UTC)),
        (" 2026-11-20T09:30:00Z ", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
    ],
    ids=["zulu", "plus-0530", "minus-0800", "day-boundary", "lower-case", "space-fraction", "padded"],
)
def test_offset_timestamp_is_normalised_to_utc(occurred_at: str, expected: datetime) -> None:
    env = parse_event(make_event(occurred_at=occurred_at))
    assert env.occurred_at == expected
    assert env.occurred_at.tzinfo is UTC


def test_envelope_strings_are_trimmed_and_blank_source_is_null() -> None:
    raw = make_event("ticket.closed", event_id="  evt-9 ", account_id=" acc-9 ", type=" ticket.closed ", source="  ")
    env = parse_event(raw)
    assert (env.event_id, env.account_id, env.type, env.source) == ("evt-9", "acc-9", "ticket.closed", None)


def test_source_is_optional() -> None:
    assert parse_event(make_event(source=MISSING)).source is None


@pytest.mark.parametrize("length", [1, 128], ids=["shortest", "longest"])
def test_id_length_bounds_are_inclusive(length: int) -> None:
    env = parse_event(make_event(event_id="e" * length, account_id="a" * length))
    assert (len(env.event_id), len(env.account_id)) == (length, length)


def test_unknown_type_does_not_report_data_errors() -> None:
    error = rejection(make_event(type="usage.deleted", data={"anything": 1}))
    assert_single_error(error, "type", "unknown_event_type")


def test_unsupported_version_does_not_report_data_errors() -> None:
    error = rejection(make_event(schema_version=2, data={"shape": "of version 2"}))
    assert_single_error(error, "schema_version", "unsupported_schema_version")


# --- future skew ---------------------------------------------------------------------------------

SKEW = timedelta(minutes=5)


def test_future_timestamp_beyond_skew_is_rejected() -> None:
    error = rejection(make_event(occurred_at="2026-11-20T09:35:01Z"), now=NOW, max_future_skew=SKEW)
    assert_single_error(error, "occurred_at", "future_timestamp")
    assert error.event_id == "evt-1"


@pytest.mark.parametrize(
    "occurred_at",
    ["2026-11-20T09:35:00Z", "2026-11-20T10:35:00+01:00", "2020-01-01T00:00:00Z"],
    ids=["exactly-at-skew", "at-skew-other-offset", "past"],
)
def test_timestamps_within_skew_are_accepted(occurred_at: str) -> None:
    parse_event(make_event(occurred_at=occurred_at), now=NOW, max_future_skew=SKEW)


def test_future_is_not_checked_without_now() -> None:
    parse_event(make_event(occurred_at="2099-01-01T00:00:00Z"), max_future_skew=SKEW)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_event(make_event(), now=datetime(2026, 11, 20, 9, 30), max_future_skew=SKEW)
