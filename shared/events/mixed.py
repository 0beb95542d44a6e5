"""Output events read by a consumer that reads input envelopes too.

Renewals reads `health.changed` beside the contract topic, expansion the health and churn-risk
records beside its input topics: one runner over all of them, so one account's records meet in one
batch, one lock and one transaction, merged in event time. An output event is not an envelope (the
contract has no envelope for it), so the parser tells the shapes apart by `type` and returns each as
the model it is: an input envelope validated by `parse_event`, an output event by its contract
model. Both carry what the runner reads (id, type, account, event time), and the handler gets the
record itself, parsed once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

from pydantic import ValidationError

from shared.events._errors import EventValidationError, field_errors_from
from shared.events.envelope import Envelope, load_event_document, validate_event
from shared.events.outputs import OutputEvent

Output = TypeVar("Output", bound=OutputEvent)


class MixedParser(Generic[Output]):
    """A consumer's parser for input envelopes and the output events of `models` (by type)."""

    def __init__(self, models: Mapping[str, type[Output]]) -> None:
        self._models = dict(models)

    def parse(self, raw: bytes) -> Envelope | Output:
        """An input envelope (validated as `parse_event` does) or one of the output events; anything
        else raises EventValidationError (the runner dead-letters it). The JSON is decoded once."""
        document = load_event_document(raw)
        model = self._models.get(str(document.get("type")))
        if model is None:
            return validate_event(document)
        try:
            return model.model_validate(document)
        except ValidationError as exc:
            raise EventValidationError(field_errors_from(exc), str(document.get("event_id"))) from None
