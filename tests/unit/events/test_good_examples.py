"""Contract events: every input type's good example, and how the models normalise what they accept."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from shared.events import (
    DATA_MODEL_BY_TYPE,
    EVENT_TYPES,
    ContactChanged,
    ContractCancelled,
    ContractTerms,
    Envelope,
    InteractionLogged,
    SurveyAnswered,
    UsageRecorded,
    envelope_to_json,
    parse_event,
)
from tests.unit.events.examples import CONTRACT_TERM_TYPES, EXPECTED_MODEL, GOOD_DATA, MISSING, make_event, with_data

pytestmark = pytest.mark.unit


# --- every type: a good example -------------------------------------------------------------


def test_event_types_are_the_contract_table() -> None:
    assert len(EVENT_TYPES) == 11
    assert EVENT_TYPES == set(GOOD_DATA) == set(DATA_MODEL_BY_TYPE)


@pytest.mark.parametrize("event_type", sorted(GOOD_DATA))
def test_good_example_parses_to_its_data_model(event_type: str) -> None:
    env = parse_event(orjson.dumps(make_event(event_type)))

    assert isinstance(env, Envelope)
    assert type(env.data) is EXPECTED_MODEL[event_type]
    assert (env.event_id, env.type, env.schema_version, env.account_id) == ("evt-1", event_type, 1, "acc-1")
    assert env.occurred_at == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert env.source == "crm"


@pytest.mark.parametrize("event_type", sorted(GOOD_DATA))
def test_str_and_mapping_inputs_parse_like_bytes(event_type: str) -> None:
    event = make_event(event_type)
    from_bytes = parse_event(orjson.dumps(event))

    assert parse_event(orjson.dumps(event).decode()) == from_bytes
    assert parse_event(event) == from_bytes
    assert parse_event(bytearray(orjson.dumps(event))) == from_bytes
    assert parse_event(memoryview(orjson.dumps(event))) == from_bytes


@pytest.mark.parametrize("event_type", sorted(GOOD_DATA))
def test_envelope_to_json_round_trips(event_type: str) -> None:
    env = parse_event(make_event(event_type, occurred_at="2026-11-20T10:30:00.250+01:00"))

    canonical = envelope_to_json(env)

    assert parse_event(canonical) == env
    assert envelope_to_json(parse_event(canonical)) == canonical
    decoded = orjson.loads(canonical)
    assert list(decoded) == sorted(decoded)
    assert decoded["occurred_at"] == "2026-11-20T09:30:00.250000Z"


def test_envelope_is_frozen() -> None:
    env = parse_event(make_event())
    with pytest.raises(ValidationError):
        env.account_id = "other"  # type: ignore[misc]


def test_envelope_can_be_built_from_a_data_model() -> None:
    env = Envelope(
        event_id="evt-1",
        type="usage.recorded",
        schema_version=1,
        account_id="acc-1",
        occurred_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        data=UsageRecorded(feature="reports.export"),
    )
    assert parse_event(envelope_to_json(env)) == env


def test_envelope_rejects_a_data_model_of_another_type() -> None:
    with pytest.raises(ValidationError) as caught:
        Envelope(
            event_id="evt-1",
            type="ticket.opened",
            schema_version=1,
            account_id="acc-1",
            occurred_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
            data=UsageRecorded(feature="reports.export"),
        )
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("data",), "model_type")]


# --- normalisation ----------------------------------------------------------------------------


def test_usage_defaults_and_trimming() -> None:
    data = parse_event(make_event("usage.recorded", {"feature": "  reports.export ", "user_id": "  "})).data
    assert data == UsageRecorded(feature="reports.export", quantity=1.0, user_id=None, product=None)


def test_quantity_accepts_integers_and_fractions() -> None:
    assert parse_event(with_data("usage.recorded", quantity=0)).data == UsageRecorded(
        feature="reports.export", quantity=0.0, user_id="u-1", product="analytics"
    )
    data = parse_event(with_data("usage.recorded", quantity=2.5)).data
    assert isinstance(data, UsageRecorded)
    assert data.quantity == 2.5


@pytest.mark.parametrize("sentiment", [-1.0, 0, 1.0], ids=["min", "zero", "max"])
def test_sentiment_bounds_are_inclusive(sentiment: float) -> None:
    data = parse_event(with_data("interaction.logged", sentiment=sentiment)).data
    assert isinstance(data, InteractionLogged)
    assert data.sentiment == sentiment


def test_interaction_optional_fields_and_token_trimming() -> None:
    data = parse_event(make_event("interaction.logged", {"channel": " chat ", "summary": "x" * 2000})).data
    assert data == InteractionLogged(channel="chat", summary="x" * 2000)


@pytest.mark.parametrize(
    ("kind", "score"),
    [("nps", 0), ("nps", 10), ("csat", 1), ("csat", 5)],
    ids=["nps-0", "nps-10", "csat-1", "csat-5"],
)
def test_survey_score_scale_bounds_are_inclusive(kind: str, score: int) -> None:
    data = parse_event(with_data("survey.answered", kind=kind, score=score)).data
    assert isinstance(data, SurveyAnswered)
    assert (data.kind, data.score) == (kind, score)


def test_contact_role_changed_with_new_role() -> None:
    raw = with_data("contact.changed", role="user", change="role_changed", new_role="champion")
    data = parse_event(raw).data
    assert data == ContactChanged(
        contact_id="ct-1", role="user", change="role_changed", new_role="champion", name="Dana Reyes"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [(MISSING, None), (None, None), ("  ", None), (" Dana Reyes ", "Dana Reyes"), ("n" * 200, "n" * 200)],
    ids=["absent", "null", "blank", "trimmed", "longest"],
)
def test_contact_name_is_optional_and_at_most_200_characters(name: Any, expected: str | None) -> None:
    data = parse_event(with_data("contact.changed", name=name)).data
    assert isinstance(data, ContactChanged)
    assert data.name == expected


def test_contact_joined_with_null_new_role() -> None:
    data = parse_event(with_data("contact.changed", change="joined", new_role=None)).data
    assert isinstance(data, ContactChanged)
    assert data.new_role is None


@pytest.mark.parametrize("event_type", CONTRACT_TERM_TYPES)
def test_contract_terms_normalisation(event_type: str) -> None:
    raw = make_event(
        event_type,
        {
            "contract_id": " C-1 ",
            "arr": " 1200.50 ",
            "currency": "eur",
            "seats": 0,
            "products": [" core ", "analytics", "core"],
            "start_date": "2026-01-01",
            "end_date": "2026-01-02",
            "segment": " Mid_Market ",
        },
    )
    data = parse_event(raw).data
    assert data == ContractTerms(
        contract_id="C-1",
        arr=Decimal("1200.50"),
        currency="EUR",
        seats=0,
        products=("core", "analytics"),
        start_date=date(2026, 1, 1),
        end_date=date(2026, 1, 2),
        auto_renew=False,
        segment="mid_market",
    )


@pytest.mark.parametrize(
    ("arr", "expected"),
    [
        (1200, Decimal("1200")),
        (0.1, Decimal("0.1")),
        ("0", Decimal("0")),
        ("-0", Decimal("0")),
        ("1e3", Decimal("1000")),
        ("999999999999999", Decimal("999999999999999")),
        ("1.123456", Decimal("1.123456")),
    ],
    ids=["int", "float", "zero-string", "negative-zero", "exponent", "large", "six-places"],
)
def test_contract_arr_accepts_numbers_and_decimal_strings(arr: Any, expected: Decimal) -> None:
    data = parse_event(with_data("contract.signed", arr=arr)).data
    assert isinstance(data, ContractTerms)
    assert data.arr == expected
    assert str(data.arr) == str(expected)


def test_contract_terms_defaults() -> None:
    minimal = {"contract_id": "C-1", "arr": 10, "seats": 1, "start_date": "2026-01-01", "end_date": "2027-01-01"}
    data = parse_event(make_event("contract.renewed", minimal)).data
    assert isinstance(data, ContractTerms)
    assert (data.currency, data.products, data.auto_renew, data.segment) == ("USD", (), False, None)


def test_contract_cancelled_minimal_has_no_terms() -> None:
    data = parse_event(make_event("contract.cancelled", {"contract_id": "C-1", "end_date": "2027-01-01"})).data
    assert data == ContractCancelled(contract_id="C-1", end_date=date(2027, 1, 1))
    assert isinstance(data, ContractCancelled)
    assert (data.arr, data.currency, data.products, data.auto_renew) == (None, None, None, None)


def test_contract_cancelled_may_repeat_terms() -> None:
    raw = with_data("contract.cancelled", arr="5000", seats=5, products=["core"], start_date="2026-01-01")
    data = parse_event(raw).data
    assert isinstance(data, ContractCancelled)
    assert (data.arr, data.currency, data.seats, data.products) == (Decimal("5000"), "USD", 5, ("core",))


def test_unknown_data_fields_are_ignored_and_dropped() -> None:
    env = parse_event(with_data("ticket.opened", priority_score=7))
    assert "priority_score" not in orjson.loads(envelope_to_json(env))["data"]
