"""The consumer's one parser for both topics it reads.

`orchard.events.contract.v1` carries input envelopes; `orchard.account-health.v1` carries
`health.changed` output events, which are not envelopes. One runner reads both (so one batch, one
lock per account and one transaction cover a contract change and a health change of the same
account, and the alert rule sees both), with a parser that tells the two shapes apart by `type`.

A `health.changed` is validated as the contract's `HealthChanged` and carried in an envelope frame
(`Envelope.model_construct`, no data model of its own) so the runner can de-duplicate it by its
deterministic event id and group it by account; the handler reads the event itself back from the
record's bytes (`health_record`).
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from shared.consumer import ConsumedEvent
from shared.events import Envelope, EventValidationError, HealthChanged, field_errors_from, parse_event

HEALTH_CHANGED = "health.changed"


def parse_renewals_input(raw: bytes) -> Envelope:
    """A contract envelope (validated by `parse_event`) or a `health.changed` in an envelope frame;
    anything else raises EventValidationError (the runner dead-letters it)."""
    if b'"health.changed"' not in raw:
        return parse_event(raw)
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return parse_event(raw)  # reports the JSON problem as every other record's
    if not isinstance(document, dict) or document.get("type") != HEALTH_CHANGED:
        return parse_event(raw)
    try:
        health = HealthChanged.model_validate(document)
    except ValidationError as exc:
        raise EventValidationError(field_errors_from(exc), str(document.get("event_id"))) from None
    # Deliberately outside the envelope's types (the contract has no envelope for output events):
    # only the frame's id, account and time are read by the runner and `by_account`.
    frame: dict[str, Any] = {
        "event_id": health.event_id, "type": HEALTH_CHANGED, "schema_version": health.schema_version,
        "account_id": health.account_id, "occurred_at": health.occurred_at, "source": "health", "data": None,
    }
    return Envelope.model_construct(**frame)


def health_record(event: ConsumedEvent) -> HealthChanged:
    """The `health.changed` a framed record carries (already validated by the parser)."""
    return HealthChanged.model_validate_json(event.raw)
