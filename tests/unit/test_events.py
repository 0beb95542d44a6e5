"""Contract events: every input type's rules, the envelope, payload-level rejections, outputs."""

from __future__ import annotations

import pickle
import random
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from shared.events import (
    CHURN_RISK_KINDS,
    DATA_MODEL_BY_TYPE,
    EVENT_TYPES,
    AccountUpdated,
    AlertReason,
    ChurnRiskAlert,
    ContactChanged,
    ContractCancelled,
    ContractTerms,
    Envelope,
    EventValidationError,
    HealthChanged,
    InteractionLogged,
    SurveyAnswered,
    TicketClosed,
    TicketOpened,
    UpsellTriggered,
    UsageRecorded,
    deterministic_event_id,
    envelope_to_json,
    output_event_to_json,
    parse_event,
    topic_kind,
)

pytestmark = pytest.mark.unit

MISSING = object()  # a field left out of the payload
GOOD = object()  # the type's good example
CONTRACT_TERM_TYPES = ("contract.signed", "contract.renewed", "contract.amended")

GOOD_DATA: dict[str, dict[str, Any]] = {
    "usage.recorded": {"user_id": "u-1", "feature": "reports.export", "quantity": 3, "product": "analytics"},
    "interaction.logged": {
        "channel": "qbr",
        "direction": "outbound",
        "contact_id": "ct-1",
        "sentiment": 0.6,
        "summary": "Quarterly review, renewal discussed",
    },
    "ticket.opened": {"ticket_id": "T-1", "severity": "high", "subject": "Export fails"},
    "ticket.closed": {"ticket_id": "T-1", "resolution": "fixed in 4.2"},
    "survey.answered": {"kind": "nps", "score": 9, "contact_id": "ct-1", "comment": "great"},
    "contact.changed": {"contact_id": "ct-1", "role": "champion", "change": "left", "name": "Dana Reyes"},
    "account.updated": {"name": "Acme GmbH", "owner": "sam@example.com", "segment": "mid_market", "tier": None},
    **{
        event_type: {
            "contract_id": "C-1",
            "arr": "120000.50",
            "currency": "EUR",
            "seats": 50,
            "products": ["core", "analytics"],
            "start_date": "2026-01-01",
            "end_date": "2027-01-01",
            "auto_renew": True,
            "segment": "enterprise",
        }
        for event_type in CONTRACT_TERM_TYPES
    },
    "contract.cancelled": {"contract_id": "C-1", "end_date": "2027-01-01", "reason": "budget cut"},
}

EXPECTED_MODEL = {
    "usage.recorded": UsageRecorded,
    "interaction.logged": InteractionLogged,
    "ticket.opened": TicketOpened,
    "ticket.closed": TicketClosed,
    "survey.answered": SurveyAnswered,
    "contact.changed": ContactChanged,
    "account.updated": AccountUpdated,
    "contract.signed": ContractTerms,
    "contract.renewed": ContractTerms,
    "contract.amended": ContractTerms,
    "contract.cancelled": ContractCancelled,
}


def _apply(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **changes}
    return {key: value for key, value in merged.items() if value is not MISSING}


def make_event(event_type: str = "usage.recorded", data: Any = GOOD, **fields: Any) -> dict[str, Any]:
    """A valid envelope of `event_type`; keyword arguments replace (or, with MISSING, drop) fields."""
    envelope = {
        "event_id": "evt-1",
        "type": event_type,
        "schema_version": 1,
        "account_id": "acc-1",
        "occurred_at": "2026-11-20T09:30:00Z",
        "source": "crm",
        "data": GOOD_DATA[event_type] if data is GOOD else data,
    }
    return _apply(envelope, fields)


def with_data(event_type: str, **changes: Any) -> dict[str, Any]:
    return make_event(event_type, _apply(GOOD_DATA[event_type], changes))


def rejection(raw: Any, **options: Any) -> EventValidationError:
    with pytest.raises(EventValidationError) as caught:
        parse_event(raw, **options)
    return caught.value


def assert_single_error(error: EventValidationError, loc: str, type_: str) -> None:
    assert [(e["loc"], e["type"]) for e in error.errors] == [(loc, type_)], error.errors
    assert error.errors[0]["msg"]


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


# --- every type: bad examples, one per field rule ----------------------------------------------

TOO_LONG_ID = "x" * 129

BAD_DATA = [
    # usage.recorded
    pytest.param("usage.recorded", {"feature": MISSING}, "data.feature", "missing", id="usage-feature-missing"),
    pytest.param("usage.recorded", {"feature": "  "}, "data.feature", "string_too_short", id="usage-feature-blank"),
    pytest.param("usage.recorded", {"feature": 7}, "data.feature", "string_type", id="usage-feature-number"),
    pytest.param("usage.recorded", {"feature": "f" * 257}, "data.feature", "string_too_long", id="usage-feature-long"),
    pytest.param("usage.recorded", {"quantity": -1}, "data.quantity", "greater_than_equal", id="usage-qty-negative"),
    pytest.param("usage.recorded", {"quantity": "3"}, "data.quantity", "float_type", id="usage-qty-string"),
    pytest.param("usage.recorded", {"quantity": True}, "data.quantity", "float_type", id="usage-qty-bool"),
    pytest.param("usage.recorded", {"quantity": None}, "data.quantity", "float_type", id="usage-qty-null"),
    pytest.param("usage.recorded", {"user_id": TOO_LONG_ID}, "data.user_id", "string_too_long", id="usage-user-long"),
    pytest.param("usage.recorded", {"user_id": 42}, "data.user_id", "string_type", id="usage-user-number"),
    pytest.param("usage.recorded", {"product": ["a"]}, "data.product", "string_type", id="usage-product-list"),
    # interaction.logged
    pytest.param("interaction.logged", {"channel": MISSING}, "data.channel", "missing", id="inter-channel-missing"),
    pytest.param("interaction.logged", {"channel": "sms"}, "data.channel", "literal_error", id="inter-channel-bad"),
    pytest.param("interaction.logged", {"channel": "Email"}, "data.channel", "literal_error", id="inter-channel-case"),
    pytest.param("interaction.logged", {"direction": "up"}, "data.direction", "literal_error", id="inter-direction"),
    pytest.param(
        "interaction.logged", {"contact_id": TOO_LONG_ID}, "data.contact_id", "string_too_long", id="inter-contact"
    ),
    pytest.param("interaction.logged", {"sentiment": 1.01}, "data.sentiment", "less_than_equal", id="inter-sent-hi"),
    pytest.param("interaction.logged", {"sentiment": -1.5}, "data.sentiment", "greater_than_equal", id="inter-sent-lo"),
    pytest.param("interaction.logged", {"sentiment": "0.5"}, "data.sentiment", "float_type", id="inter-sent-str"),
    pytest.param("interaction.logged", {"sentiment": False}, "data.sentiment", "float_type", id="inter-sent-bool"),
    pytest.param(
        "interaction.logged", {"summary": "s" * 2001}, "data.summary", "string_too_long", id="inter-summary-long"
    ),
    # ticket.opened
    pytest.param("ticket.opened", {"ticket_id": MISSING}, "data.ticket_id", "missing", id="topen-id-missing"),
    pytest.param("ticket.opened", {"ticket_id": ""}, "data.ticket_id", "string_too_short", id="topen-id-empty"),
    pytest.param("ticket.opened", {"ticket_id": 12}, "data.ticket_id", "string_type", id="topen-id-number"),
    pytest.param("ticket.opened", {"severity": MISSING}, "data.severity", "missing", id="topen-sev-missing"),
    pytest.param("ticket.opened", {"severity": "critical"}, "data.severity", "literal_error", id="topen-sev-bad"),
    pytest.param("ticket.opened", {"subject": "s" * 10_001}, "data.subject", "string_too_long", id="topen-subj-long"),
    # ticket.closed
    pytest.param("ticket.closed", {"ticket_id": MISSING}, "data.ticket_id", "missing", id="tclose-id-missing"),
    pytest.param("ticket.closed", {"ticket_id": TOO_LONG_ID}, "data.ticket_id", "string_too_long", id="tclose-id-long"),
    pytest.param("ticket.closed", {"resolution": 1}, "data.resolution", "string_type", id="tclose-resolution"),
    # survey.answered
    pytest.param("survey.answered", {"kind": MISSING}, "data.kind", "missing", id="survey-kind-missing"),
    pytest.param("survey.answered", {"kind": "ces"}, "data.kind", "literal_error", id="survey-kind-bad"),
    pytest.param("survey.answered", {"score": MISSING}, "data.score", "missing", id="survey-score-missing"),
    pytest.param("survey.answered", {"score": 11}, "data.score", "score_out_of_range", id="survey-nps-11"),
    pytest.param("survey.answered", {"score": -1}, "data.score", "score_out_of_range", id="survey-nps-neg"),
    pytest.param(
        "survey.answered", {"kind": "csat", "score": 0}, "data.score", "score_out_of_range", id="survey-csat-0"
    ),
    pytest.param(
        "survey.answered", {"kind": "csat", "score": 6}, "data.score", "score_out_of_range", id="survey-csat-6"
    ),
    pytest.param("survey.answered", {"score": 8.5}, "data.score", "int_type", id="survey-score-fraction"),
    pytest.param("survey.answered", {"score": "9"}, "data.score", "int_type", id="survey-score-string"),
    pytest.param("survey.answered", {"score": True}, "data.score", "int_type", id="survey-score-bool"),
    pytest.param("survey.answered", {"comment": "c" * 10_001}, "data.comment", "string_too_long", id="survey-comment"),
    # contact.changed
    pytest.param("contact.changed", {"contact_id": MISSING}, "data.contact_id", "missing", id="contact-id-missing"),
    pytest.param("contact.changed", {"role": MISSING}, "data.role", "missing", id="contact-role-missing"),
    pytest.param("contact.changed", {"role": "ceo"}, "data.role", "literal_error", id="contact-role-bad"),
    pytest.param("contact.changed", {"change": MISSING}, "data.change", "missing", id="contact-change-missing"),
    pytest.param("contact.changed", {"change": "moved"}, "data.change", "literal_error", id="contact-change-bad"),
    pytest.param(
        "contact.changed", {"change": "role_changed"}, "data.new_role", "missing", id="contact-new-role-missing"
    ),
    pytest.param(
        "contact.changed",
        {"change": "role_changed", "new_role": "boss"},
        "data.new_role",
        "literal_error",
        id="contact-new-role-bad",
    ),
    pytest.param(
        "contact.changed",
        {"change": "joined", "new_role": "admin"},
        "data.new_role",
        "new_role_not_allowed",
        id="contact-new-role-unexpected",
    ),
    pytest.param("contact.changed", {"name": "n" * 201}, "data.name", "string_too_long", id="contact-name-long"),
    pytest.param("contact.changed", {"name": 7}, "data.name", "string_type", id="contact-name-number"),
    # account.updated
    pytest.param("account.updated", {"name": "n" * 201}, "data.name", "string_too_long", id="account-name-long"),
    pytest.param("account.updated", {"name": 42}, "data.name", "string_type", id="account-name-number"),
    pytest.param("account.updated", {"owner": "o" * 201}, "data.owner", "string_too_long", id="account-owner-long"),
    pytest.param("account.updated", {"owner": ["a", "b"]}, "data.owner", "string_type", id="account-owner-list"),
    pytest.param("account.updated", {"segment": "s" * 65}, "data.segment", "string_too_long", id="account-segment"),
    pytest.param("account.updated", {"segment": 3}, "data.segment", "string_type", id="account-segment-number"),
    pytest.param("account.updated", {"crm_id": "c" * 129}, "data.crm_id", "string_too_long", id="account-crm-id"),
    pytest.param("account.updated", {"crm_id": 1234}, "data.crm_id", "string_type", id="account-crm-id-number"),
    pytest.param("account.updated", {"tier": "t" * 65}, "data.tier", "string_too_long", id="account-tier-long"),
    pytest.param("account.updated", {"tier": True}, "data.tier", "string_type", id="account-tier-bool"),
    # contract.cancelled
    pytest.param("contract.cancelled", {"contract_id": MISSING}, "data.contract_id", "missing", id="cancel-id"),
    pytest.param("contract.cancelled", {"end_date": MISSING}, "data.end_date", "missing", id="cancel-end-missing"),
    pytest.param("contract.cancelled", {"end_date": "soon"}, "data.end_date", "date_parsing", id="cancel-end-bad"),
    pytest.param(
        "contract.cancelled",
        {"start_date": "2027-02-01"},
        "data.end_date",
        "end_date_not_after_start_date",
        id="cancel-end-before-start",
    ),
    pytest.param("contract.cancelled", {"arr": -5}, "data.arr", "greater_than_equal", id="cancel-arr-negative"),
    pytest.param("contract.cancelled", {"seats": "3"}, "data.seats", "int_type", id="cancel-seats-string"),
    pytest.param("contract.cancelled", {"currency": "dollars"}, "data.currency", "invalid_currency", id="cancel-cur"),
    pytest.param("contract.cancelled", {"reason": "r" * 10_001}, "data.reason", "string_too_long", id="cancel-reason"),
]


NO_ACCOUNT_FIELDS = [
    pytest.param({}, id="empty"),
    pytest.param({"nmae": "Acme", "region": "emea"}, id="only-unknown-keys"),
]


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


BAD_CONTRACT_TERMS = [
    pytest.param({"contract_id": MISSING}, "data.contract_id", "missing", id="id-missing"),
    pytest.param({"contract_id": " "}, "data.contract_id", "string_too_short", id="id-blank"),
    pytest.param({"arr": MISSING}, "data.arr", "missing", id="arr-missing"),
    pytest.param({"arr": -0.01}, "data.arr", "greater_than_equal", id="arr-negative"),
    pytest.param({"arr": "12k"}, "data.arr", "decimal_parsing", id="arr-not-decimal"),
    pytest.param({"arr": "NaN"}, "data.arr", "finite_number", id="arr-nan"),
    pytest.param({"arr": "-Infinity"}, "data.arr", "finite_number", id="arr-infinity"),
    pytest.param({"arr": True}, "data.arr", "decimal_type", id="arr-bool"),
    pytest.param({"arr": None}, "data.arr", "decimal_type", id="arr-null"),
    pytest.param({"arr": "1e16"}, "data.arr", "less_than_equal", id="arr-absurd"),
    pytest.param({"arr": "1.1234567"}, "data.arr", "decimal_max_places", id="arr-seven-places"),
    pytest.param({"currency": "US"}, "data.currency", "invalid_currency", id="currency-short"),
    pytest.param({"currency": "US1"}, "data.currency", "invalid_currency", id="currency-digit"),
    pytest.param({"currency": "ÉUR"}, "data.currency", "invalid_currency", id="currency-non-ascii"),
    pytest.param({"currency": 840}, "data.currency", "string_type", id="currency-number"),
    pytest.param({"seats": MISSING}, "data.seats", "missing", id="seats-missing"),
    pytest.param({"seats": -1}, "data.seats", "greater_than_equal", id="seats-negative"),
    pytest.param({"seats": 2**31}, "data.seats", "less_than_equal", id="seats-over-int32"),
    pytest.param({"seats": 1.5}, "data.seats", "int_type", id="seats-fraction"),
    pytest.param({"seats": "5"}, "data.seats", "int_type", id="seats-string"),
    pytest.param({"seats": True}, "data.seats", "int_type", id="seats-bool"),
    pytest.param({"products": "core"}, "data.products", "tuple_type", id="products-string"),
    pytest.param({"products": ["core", " "]}, "data.products.1", "string_too_short", id="products-blank-item"),
    pytest.param({"products": [1]}, "data.products.0", "string_type", id="products-number-item"),
    pytest.param({"start_date": MISSING}, "data.start_date", "missing", id="start-missing"),
    pytest.param({"start_date": "2026-13-01"}, "data.start_date", "date_parsing", id="start-bad-month"),
    pytest.param({"start_date": "2026-01-01T00:00:00Z"}, "data.start_date", "date_parsing", id="start-timestamp"),
    pytest.param({"start_date": "20260101"}, "data.start_date", "date_parsing", id="start-compact"),
    pytest.param({"start_date": 1767225600}, "data.start_date", "date_type", id="start-epoch"),
    pytest.param({"end_date": MISSING}, "data.end_date", "missing", id="end-missing"),
    pytest.param({"end_date": "2026-01-01"}, "data.end_date", "end_date_not_after_start_date", id="end-equals-start"),
    pytest.param({"end_date": "2025-12-31"}, "data.end_date", "end_date_not_after_start_date", id="end-before-start"),
    pytest.param({"auto_renew": "true"}, "data.auto_renew", "bool_type", id="auto-renew-string"),
    pytest.param({"auto_renew": 1}, "data.auto_renew", "bool_type", id="auto-renew-number"),
    pytest.param({"segment": "s" * 65}, "data.segment", "string_too_long", id="segment-long"),
    pytest.param({"segment": 3}, "data.segment", "string_type", id="segment-number"),
]


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

BAD_ENVELOPES = [
    pytest.param({"event_id": MISSING}, "event_id", "missing", id="event-id-missing"),
    pytest.param({"event_id": "   "}, "event_id", "string_too_short", id="event-id-blank"),
    pytest.param({"event_id": "e" * 129}, "event_id", "string_too_long", id="event-id-129"),
    pytest.param({"event_id": 17}, "event_id", "string_type", id="event-id-number"),
    pytest.param({"account_id": MISSING}, "account_id", "missing", id="account-id-missing"),
    pytest.param({"account_id": ""}, "account_id", "string_too_short", id="account-id-empty"),
    pytest.param({"account_id": "a" * 129}, "account_id", "string_too_long", id="account-id-129"),
    pytest.param({"account_id": None}, "account_id", "string_type", id="account-id-null"),
    pytest.param({"type": MISSING}, "type", "missing", id="type-missing"),
    pytest.param({"type": "usage.deleted"}, "type", "unknown_event_type", id="type-unknown"),
    pytest.param({"type": "Usage.Recorded"}, "type", "unknown_event_type", id="type-wrong-case"),
    pytest.param({"type": 3}, "type", "unknown_event_type", id="type-number"),
    pytest.param({"type": None}, "type", "unknown_event_type", id="type-null"),
    pytest.param({"schema_version": MISSING}, "schema_version", "missing", id="version-missing"),
    pytest.param({"schema_version": 2}, "schema_version", "unsupported_schema_version", id="version-2"),
    pytest.param({"schema_version": 0}, "schema_version", "unsupported_schema_version", id="version-0"),
    pytest.param({"schema_version": "1"}, "schema_version", "int_type", id="version-string"),
    pytest.param({"schema_version": True}, "schema_version", "int_type", id="version-bool"),
    pytest.param({"schema_version": 1.0}, "schema_version", "int_type", id="version-float"),
    pytest.param({"occurred_at": MISSING}, "occurred_at", "missing", id="occurred-missing"),
    pytest.param(
        {"occurred_at": "2026-11-20T09:30:00"}, "occurred_at", "timestamp_without_offset", id="occurred-naive"
    ),
    pytest.param(
        {"occurred_at": "2026-11-20 09:30:00.5"}, "occurred_at", "timestamp_without_offset", id="occurred-naive-space"
    ),
    pytest.param({"occurred_at": "2026-11-20"}, "occurred_at", "datetime_parsing", id="occurred-date-only"),
    pytest.param({"occurred_at": "2026-11-20T09:30Z"}, "occurred_at", "datetime_parsing", id="occurred-no-seconds"),
    pytest.param({"occurred_at": "1700000000"}, "occurred_at", "datetime_parsing", id="occurred-epoch-string"),
    pytest.param({"occurred_at": "2026-11-20T25:00:00Z"}, "occurred_at", "datetime_parsing", id="occurred-hour-25"),
    pytest.param({"occurred_at": "yesterday"}, "occurred_at", "datetime_parsing", id="occurred-words"),
    pytest.param({"occurred_at": 1700000000}, "occurred_at", "datetime_type", id="occurred-epoch-number"),
    pytest.param({"occurred_at": None}, "occurred_at", "datetime_type", id="occurred-null"),
    pytest.param(
        {"occurred_at": "0001-01-01T00:30:00+01:00"}, "occurred_at", "datetime_out_of_range", id="occurred-year-0"
    ),
    pytest.param({"source": "s" * 129}, "source", "string_too_long", id="source-long"),
    pytest.param({"source": 5}, "source", "string_type", id="source-number"),
    pytest.param({"data": MISSING}, "data", "missing", id="data-missing"),
    pytest.param({"data": []}, "data", "model_type", id="data-array"),
    pytest.param({"data": "feature=x"}, "data", "model_type", id="data-string"),
    pytest.param({"data": None}, "data", "model_type", id="data-null"),
    pytest.param({"occured_at": "2026-11-20T09:30:00Z"}, "occured_at", "extra_forbidden", id="unknown-top-level-key"),
]


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

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
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


# --- topic routing -------------------------------------------------------------------------------

TOPIC_KINDS = {
    "usage.recorded": "usage",
    "interaction.logged": "interaction",
    "ticket.opened": "interaction",
    "ticket.closed": "interaction",
    "survey.answered": "interaction",
    "contact.changed": "interaction",
    "account.updated": "interaction",
    "contract.signed": "contract",
    "contract.renewed": "contract",
    "contract.amended": "contract",
    "contract.cancelled": "contract",
}


@pytest.mark.parametrize(("event_type", "kind"), sorted(TOPIC_KINDS.items()))
def test_topic_kind(event_type: str, kind: str) -> None:
    assert topic_kind(event_type) == kind


def test_every_event_type_has_a_topic() -> None:
    assert set(TOPIC_KINDS) == EVENT_TYPES


@pytest.mark.parametrize("event_type", ["billing.paid", "usage", "usage.", ""], ids=repr)
def test_topic_kind_rejects_unknown_types(event_type: str) -> None:
    with pytest.raises(ValueError, match="no canonical topic"):
        topic_kind(event_type)


# --- deterministic ids ---------------------------------------------------------------------------


def test_deterministic_event_id_is_stable() -> None:
    first = deterministic_event_id("acc-1", "score_drop", "2026-11-20")
    assert first == deterministic_event_id("acc-1", "score_drop", "2026-11-20")
    # Pinned: a change here would re-key every derived event already published.
    assert first == "abf94933-a6c7-535a-8106-a12d5b5f9895"
    assert uuid.UUID(first).version == 5


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("acc-1", "score_drop"), ("acc-2", "score_drop")),
        (("acc-1", "score_drop"), ("score_drop", "acc-1")),
        (("a:b", "c"), ("a", "b:c")),
        (("a", "b"), ("ab",)),
        (("a",), ("a", "")),
    ],
    ids=["different-account", "order-matters", "separator-inside-part", "joined-parts", "empty-part"],
)
def test_deterministic_event_id_is_distinct(left: tuple[str, ...], right: tuple[str, ...]) -> None:
    assert deterministic_event_id(*left) != deterministic_event_id(*right)


def test_deterministic_event_id_needs_string_parts() -> None:
    with pytest.raises(ValueError):
        deterministic_event_id()
    with pytest.raises(TypeError):
        deterministic_event_id("acc-1", 7)  # type: ignore[arg-type]


# --- output events -------------------------------------------------------------------------------

EMITTED = datetime(2026, 11, 20, 9, 31, tzinfo=UTC)
COMMON_OUTPUT_FIELDS = {"event_id", "type", "schema_version", "account_id", "occurred_at", "emitted_at"}


def reason() -> AlertReason:
    return AlertReason(
        component="usage", delta=-12.5, detail="Usage fell 40% against the prior 30 days", evidence_event_ids=["e-1"]
    )


def health_changed(**overrides: Any) -> HealthChanged:
    fields: dict[str, Any] = {
        "event_id": deterministic_event_id("acc-1", "health", "2026-11-20T09:30:00Z"),
        "account_id": "acc-1",
        "occurred_at": NOW,
        "emitted_at": EMITTED,
        "score": 61.5,
        "grade": "yellow",
        "previous_score": 74,
        "previous_grade": "green",
        "components": {"usage": 40, "support": 90.5},
        "as_of": NOW,
        **overrides,
    }
    return HealthChanged(**fields)


def churn_alert(**overrides: Any) -> ChurnRiskAlert:
    fields: dict[str, Any] = {
        "event_id": deterministic_event_id("acc-1", "score_drop", "1"),
        "account_id": "acc-1",
        "occurred_at": NOW,
        "emitted_at": EMITTED,
        "kind": "score_drop",
        "severity": "high",
        "score": 41,
        "previous_score": 74,
        "grade": "red",
        "reasons": [reason()],
        "renewal_date": date(2027, 1, 1),
        "days_to_renewal": 42,
        "arr_at_risk": Decimal("120000.50"),
        **overrides,
    }
    return ChurnRiskAlert(**fields)


def upsell(**overrides: Any) -> UpsellTriggered:
    fields: dict[str, Any] = {
        "event_id": deterministic_event_id("acc-1", "seat_limit", "C-1"),
        "account_id": "acc-1",
        "occurred_at": NOW,
        "emitted_at": EMITTED,
        "kind": "seat_limit",
        "product": "core",
        "reason": "48 of 50 seats active for 30 days",
        "evidence_event_ids": ["e-1", "e-2"],
        "estimated_arr_uplift": Decimal("12000"),
        "confidence": 0.8,
        **overrides,
    }
    return UpsellTriggered(**fields)


def test_health_changed_serialises_with_contract_fields() -> None:
    body = orjson.loads(output_event_to_json(health_changed()))
    assert COMMON_OUTPUT_FIELDS | {
        "score",
        "grade",
        "previous_score",
        "previous_grade",
        "components",
        "as_of",
    } <= set(body)
    assert body["type"] == "health.changed"
    assert body["schema_version"] == 1
    assert body["occurred_at"] == "2026-11-20T09:30:00Z"
    assert body["components"] == {"usage": 40.0, "support": 90.5}
    assert (body["previous_score"], body["previous_grade"]) == (74.0, "green")


def test_churn_risk_alert_serialises_with_contract_fields() -> None:
    body = orjson.loads(output_event_to_json(churn_alert()))
    assert COMMON_OUTPUT_FIELDS | {
        "kind",
        "severity",
        "score",
        "previous_score",
        "grade",
        "reasons",
        "renewal_date",
        "days_to_renewal",
        "arr_at_risk",
    } <= set(body)
    assert body["type"] == "churn_risk.raised"
    assert body["reasons"] == [
        {
            "component": "usage",
            "delta": -12.5,
            "detail": "Usage fell 40% against the prior 30 days",
            "evidence_event_ids": ["e-1"],
        }
    ]
    assert (body["renewal_date"], body["arr_at_risk"]) == ("2027-01-01", "120000.50")


def test_churn_risk_alert_carries_calibration_where_known() -> None:
    body = orjson.loads(output_event_to_json(churn_alert(churn_probability=0.34, kind_precision=0.61)))
    assert (body["churn_probability"], body["kind_precision"]) == (0.34, 0.61)
    unknown = orjson.loads(output_event_to_json(churn_alert()))
    assert (unknown["churn_probability"], unknown["kind_precision"]) == (None, None)


@pytest.mark.parametrize("kind", [*CHURN_RISK_KINDS, "silence_after_qbr"])
def test_churn_risk_kinds_are_the_contracts_and_more(kind: str) -> None:
    assert churn_alert(kind=kind).kind == kind


def test_contract_churn_risk_kinds_include_the_later_additions() -> None:
    assert {"renewal_at_risk", "revenue_health_divergence"} <= set(CHURN_RISK_KINDS)


def test_churn_risk_resolved_is_the_same_shape() -> None:
    assert churn_alert(type="churn_risk.resolved").type == "churn_risk.resolved"


def test_upsell_triggered_serialises_with_contract_fields() -> None:
    body = orjson.loads(output_event_to_json(upsell()))
    assert COMMON_OUTPUT_FIELDS | {
        "kind",
        "product",
        "reason",
        "evidence_event_ids",
        "estimated_arr_uplift",
        "confidence",
    } <= set(body)
    assert body["type"] == "upsell.triggered"
    assert (body["evidence_event_ids"], body["estimated_arr_uplift"]) == (["e-1", "e-2"], "12000")


@pytest.mark.parametrize("build", [health_changed, churn_alert, upsell], ids=["health", "churn", "upsell"])
def test_output_events_round_trip_through_json(build: Callable[[], Any]) -> None:
    event = build()
    assert type(event).model_validate_json(output_event_to_json(event)) == event


def test_output_readers_ignore_fields_they_do_not_know() -> None:
    body = orjson.loads(output_event_to_json(health_changed()))
    assert HealthChanged.model_validate({**body, "added_later": 1}) == health_changed()


def test_output_timestamps_are_normalised_to_utc() -> None:
    event = health_changed(emitted_at="2026-11-20T10:31:00+01:00")
    assert event.emitted_at == EMITTED
    assert event.emitted_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("build", "overrides", "loc"),
    [
        (health_changed, {"score": 100.5}, ("score",)),
        (health_changed, {"grade": "blue"}, ("grade",)),
        (health_changed, {"components": {"usage": -1}}, ("components", "usage")),
        (health_changed, {"emitted_at": datetime(2026, 11, 20, 9, 31)}, ("emitted_at",)),
        (health_changed, {"type": "health.updated"}, ("type",)),
        (churn_alert, {"severity": "severe"}, ("severity",)),
        (churn_alert, {"arr_at_risk": Decimal("-1")}, ("arr_at_risk",)),
        (churn_alert, {"churn_probability": 1.01}, ("churn_probability",)),
        (churn_alert, {"churn_probability": -0.1}, ("churn_probability",)),
        (churn_alert, {"kind_precision": 2}, ("kind_precision",)),
        (churn_alert, {"kind_precision": float("nan")}, ("kind_precision",)),
        (churn_alert, {"kind": ""}, ("kind",)),
        (upsell, {"confidence": 1.5}, ("confidence",)),
        (upsell, {"estimated_arr_uplift": -10}, ("estimated_arr_uplift",)),
    ],
    ids=[
        "health-score-over-100",
        "health-grade",
        "health-component-range",
        "health-naive-emitted-at",
        "health-type",
        "churn-severity",
        "churn-negative-arr",
        "churn-probability-over-1",
        "churn-probability-negative",
        "churn-kind-precision-over-1",
        "churn-kind-precision-nan",
        "churn-kind-empty",
        "upsell-confidence",
        "upsell-negative-uplift",
    ],
)
def test_output_events_validate_their_fields(
    build: Callable[..., Any], overrides: dict[str, Any], loc: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError) as caught:
        build(**overrides)
    assert [e["loc"] for e in caught.value.errors()] == [loc]
