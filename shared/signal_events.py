"""An event as the health and expansion domains fold it: the envelope's identity, type and event time,
and its payload as plain data (the account and schema fields are the shell's business)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.events import Envelope


@dataclass(frozen=True, slots=True)
class SignalEvent:
    """One validated event as a domain fold needs it."""

    event_id: str
    event_type: str
    occurred_at: datetime
    data: Mapping[str, Any]


def signal_event_of(envelope: Envelope) -> SignalEvent:
    """The event a validated envelope carries, its payload dumped as pydantic made it."""
    return SignalEvent(envelope.event_id, envelope.type, envelope.occurred_at, envelope.data.model_dump())
