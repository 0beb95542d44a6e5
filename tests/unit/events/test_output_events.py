"""Contract events: the output events (health.changed, churn_risk.*, upsell.triggered)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from shared.events import (
    CHURN_RISK_KINDS,
    HealthChanged,
    output_event_to_json,
)
from tests.unit.events.examples import EMITTED, churn_alert, health_changed, upsell

pytestmark = pytest.mark.unit


# --- output events -------------------------------------------------------------------------------

COMMON_OUTPUT_FIELDS = {"event_id", "type", "schema_version", "account_id", "occurred_at", "emitted_at"}


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
