"""Output events read by a consumer that reads input envelopes too.

Renewals reads `health.changed` beside the contract topic, expansion the health and churn-risk
records beside its input topics: one runner over all of them, so one account's records meet in one
batch, one lock and one transaction, merged in event time. An output event is not an envelope (the
contract has no envelope for it). The parser tells the shapes apart by `type`: an input envelope is
validated by `parse_event`; an output event by its contract model, and carried in an envelope frame
(`Envelope.model_construct`: id, type, account and time, no data), which is all the runner and
`by_account` read of it. The handler reads the event itself back from the record's bytes (`read`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import ValidationError

from shared.events._errors import EventValidationError, field_errors_from
from shared.events.envelope import Envelope, parse_event
from shared.events.outputs import OutputEvent


class OutputEventFrames:
    """A consumer's parser for input envelopes and the output events of `models` (by type)."""

    def __init__(self, models: Mapping[str, type[OutputEvent]], *, source: str) -> None:
        self._models = dict(models)
        self._source = source
        # Most records are input envelopes: the bytes say cheaply whether one may be an output event.
        self._markers = tuple(orjson.dumps(event_type) for event_type in self._models)

    def parse(self, raw: bytes) -> Envelope:
        """An input envelope (validated by `parse_event`) or an output event in an envelope frame;
        anything else raises EventValidationError (the runner dead-letters it)."""
        if not any(marker in raw for marker in self._markers):
            return parse_event(raw)
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return parse_event(raw)  # reports the JSON problem as every other record's
        model = self._models.get(str(document.get("type"))) if isinstance(document, dict) else None
        if model is None:
            return parse_event(raw)
        try:
            record = model.model_validate(document)
        except ValidationError as exc:
            raise EventValidationError(field_errors_from(exc), str(document.get("event_id"))) from None
        # Deliberately outside the envelope's types: see the module docstring.
        frame: dict[str, Any] = {
            "event_id": record.event_id, "type": record.type, "schema_version": record.schema_version,
            "account_id": record.account_id, "occurred_at": record.occurred_at, "source": self._source,
            "data": None,
        }
        return Envelope.model_construct(**frame)

    def read(self, event_type: str, raw: bytes) -> OutputEvent:
        """The output event a framed record of `event_type` carries (validated again, as its model)."""
        return self._models[event_type].model_validate_json(raw)
