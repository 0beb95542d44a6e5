"""An account's story for the integration and domain tests: its events as contract envelopes (dicts),
in the order they are added, days counted from T0. Each service's tests add the kinds of events they
need (`tests.integration.health.harness`, `tests.unit.expansion.factories`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def at(day: float) -> datetime:
    return T0 + timedelta(days=day)


@dataclass
class Story:
    """One account's events, in the order they are added."""

    account_id: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, day: float, event_type: str, data: dict[str, Any]) -> str:
        event_id = f"{self.account_id}-{len(self.events):05d}"
        self.events.append({"event_id": event_id, "type": event_type, "schema_version": 1,
                            "account_id": self.account_id, "occurred_at": at(day).isoformat(), "data": data})
        return event_id
