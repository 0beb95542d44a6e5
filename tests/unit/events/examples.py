"""Good examples of every contract event type and builders of valid events, shared by the event tests
and tests/unit/test_schemas.py (the JSON Schemas must accept what the models accept)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.events import (
    AccountUpdated,
    AlertReason,
    ChurnRiskAlert,
    ContactChanged,
    ContractCancelled,
    ContractTerms,
    EventValidationError,
    HealthChanged,
    InteractionLogged,
    SurveyAnswered,
    TicketClosed,
    TicketOpened,
    UpsellTriggered,
    UsageRecorded,
    deterministic_event_id,
    parse_event,
)

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


NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
EMITTED = datetime(2026, 11, 20, 9, 31, tzinfo=UTC)


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
