"""One example of each event on the contract's topics, as a producer or reader sees it in JSON.

They are shown in the AsyncAPI document and the ingest OpenAPI, and the tests hold them to the
models and to the generated JSON Schemas, so a published example is always a valid event.
"""

from __future__ import annotations

from typing import Any, Final

_AT: Final = "2026-11-20T09:30:00Z"
_TERMS: Final[dict[str, Any]] = {
    "contract_id": "C-1001",
    "arr": "120000.50",
    "currency": "EUR",
    "seats": 50,
    "products": ["core", "analytics"],
    "start_date": "2026-01-01",
    "end_date": "2027-01-01",
    "auto_renew": True,
    "segment": "enterprise",
}
_INPUT_DATA: Final[dict[str, dict[str, Any]]] = {
    "usage.recorded": {"user_id": "u-17", "feature": "reports.export", "quantity": 3, "product": "analytics"},
    "interaction.logged": {
        "channel": "qbr",
        "direction": "outbound",
        "contact_id": "ct-3",
        "sentiment": 0.6,
        "summary": "Quarterly review; renewal discussed",
    },
    "ticket.opened": {"ticket_id": "T-881", "severity": "high", "subject": "Export fails on large reports"},
    "ticket.closed": {"ticket_id": "T-881", "resolution": "fixed in 4.2"},
    "survey.answered": {"kind": "nps", "score": 9, "contact_id": "ct-3", "comment": "Reports save us hours"},
    "contact.changed": {"contact_id": "ct-3", "role": "champion", "change": "left", "name": "Dana Reyes"},
    # Sets the owner and tier, clears the CRM id, keeps name and segment as they were.
    "account.updated": {"owner": "sam.lee@example.com", "tier": "gold", "crm_id": None},
    "contract.signed": _TERMS,
    "contract.renewed": {**_TERMS, "arr": "132000", "start_date": "2027-01-01", "end_date": "2028-01-01"},
    "contract.amended": {**_TERMS, "seats": 60, "arr": "144000.60"},
    "contract.cancelled": {"contract_id": "C-1001", "end_date": "2027-01-01", "reason": "budget cut"},
}
_SOURCES: Final = {"usage": "telemetry", "contract": "billing"}

INPUT_EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    event_type: {
        "event_id": f"evt-{index:04d}",
        "type": event_type,
        "schema_version": 1,
        "account_id": "acct-42",
        "occurred_at": _AT,
        "source": _SOURCES.get(event_type.split(".")[0], "crm"),
        "data": data,
    }
    for index, (event_type, data) in enumerate(_INPUT_DATA.items(), start=1)
}

_OUTPUT_COMMON: Final[dict[str, Any]] = {
    "schema_version": 1,
    "account_id": "acct-42",
    "occurred_at": _AT,
    "emitted_at": "2026-11-20T09:30:02Z",
}
_REASON: Final[dict[str, Any]] = {
    "component": "usage",
    "delta": -18.5,
    "detail": "Weekly active users fell 45% against the prior 30 days",
    "evidence_event_ids": ["evt-0001"],
}
_ALERT: Final[dict[str, Any]] = {
    **_OUTPUT_COMMON,
    "kind": "score_drop",
    "severity": "high",
    "score": 41.0,
    "previous_score": 74.0,
    "grade": "red",
    "reasons": [_REASON],
    "renewal_date": "2027-01-01",
    "days_to_renewal": 42,
    "arr_at_risk": "120000.50",
    "churn_probability": 0.34,
    "kind_precision": 0.61,
}

OUTPUT_EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "health.changed": {
        **_OUTPUT_COMMON,
        "event_id": "5a0c3f0e-6f3c-5f0e-9d55-0b8f0f3a2c11",
        "type": "health.changed",
        "score": 61.5,
        "grade": "yellow",
        "previous_score": 74.0,
        "previous_grade": "green",
        "components": {"usage": 40.0, "engagement": 72.0, "sentiment": 80.0, "support": 90.5},
        "as_of": _AT,
        "scorecard_version": 3,
        "reasons": [_REASON],
    },
    "churn_risk.raised": {**_ALERT, "event_id": "abf94933-a6c7-535a-8106-a12d5b5f9895", "type": "churn_risk.raised"},
    "churn_risk.resolved": {
        **_ALERT,
        "event_id": "0d3d7c58-5c4e-5a43-8f0c-3b8f4fd2e0a7",
        "type": "churn_risk.resolved",
        "occurred_at": "2026-12-04T10:00:00Z",
        "emitted_at": "2026-12-04T10:00:01Z",
        "severity": "low",
        "score": 66.0,
        "previous_score": 41.0,
        "grade": "yellow",
        "reasons": [{**_REASON, "delta": 25.0, "detail": "Weekly active users back to their usual level"}],
    },
    "upsell.triggered": {
        **_OUTPUT_COMMON,
        "event_id": "8f1b7b0c-3f5e-5b1d-a0c4-2f9e6d7c8b90",
        "type": "upsell.triggered",
        "kind": "seat_limit",
        "product": "core",
        "reason": "48 of 50 seats active for 30 days",
        "evidence_event_ids": ["evt-0001", "evt-0008"],
        "estimated_arr_uplift": "24000",
        "confidence": 0.8,
    },
    "dead_letter": {
        "event_id": "dlq:ingest:orchard.ingest.raw.v1:3:1207",
        "service": "ingest",
        "error": "event 'evt-77' rejected, 1 error: occurred_at: timestamp 2026-11-20T09:30:00 has no UTC offset",
        "error_kind": "validation",
        "source_topic": "orchard.ingest.raw.v1",
        "partition": 3,
        "offset": 1207,
        "key": "acct-42",
        "original": '{"event_id":"evt-77"}',
        "original_base64": "eyJldmVudF9pZCI6ImV2dC03NyJ9",
        "original_size": 21,
        "failed_at": "2026-11-20T09:30:01.250000+00:00",
    },
}
