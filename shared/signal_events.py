"""An event as the health and expansion domains fold it: the envelope's identity, type and event time,
and its payload as the model pydantic validated (the account and schema fields are the shell's
business). The payload's class follows from the type, so a domain reads attributes the model
guarantees instead of re-checking dictionary keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from shared.events import DATA_MODEL_BY_TYPE, ChurnRiskAlert, Envelope, EventData, HealthChanged

SignalData = EventData | HealthChanged | ChurnRiskAlert
"""What a fold reads: an input event's data, or the output records expansion's health gate reads."""

_MODEL_BY_TYPE: Final[dict[str, type[SignalData]]] = {
    **DATA_MODEL_BY_TYPE, "health.changed": HealthChanged,
    "churn_risk.raised": ChurnRiskAlert, "churn_risk.resolved": ChurnRiskAlert,
}


@dataclass(frozen=True, slots=True)
class SignalEvent:
    """One validated event as a domain fold needs it."""

    event_id: str
    event_type: str
    occurred_at: datetime
    data: SignalData

    def __post_init__(self) -> None:
        # The one place the type and the payload's class are tied: the folds dispatch on either.
        expected = _MODEL_BY_TYPE.get(self.event_type)
        if expected is not None and not isinstance(self.data, expected):
            raise TypeError(f"{self.event_type} carries {expected.__name__}, got {type(self.data).__name__}")


def signal_event_of(envelope: Envelope) -> SignalEvent:
    """The event a validated envelope carries, its payload as pydantic made it."""
    return SignalEvent(envelope.event_id, envelope.type, envelope.occurred_at, envelope.data)


def signal_event(*, event_id: str, event_type: str, occurred_at: datetime, data: Mapping[str, Any]) -> SignalEvent:
    """An input event from its parts, `data` as its JSON (recorded inputs), validated by the type's model."""
    model = DATA_MODEL_BY_TYPE.get(event_type)
    if model is None:
        raise ValueError(f"not an input event type: {event_type}")
    return SignalEvent(event_id, event_type, occurred_at, model.model_validate(data))
