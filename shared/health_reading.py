"""An account's health as the services downstream of health (renewals, expansion) read it: one
`health.changed` record, typed, in the order both keep (event time, then id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.events import HealthChanged


@dataclass(frozen=True, slots=True)
class HealthReading:
    score: float
    grade: str
    previous_score: float | None
    at: datetime
    """The record's event time."""
    event_id: str
    components: tuple[tuple[str, float], ...] = ()
    """Health's parts (name, 0-100), sorted by name, as the record carried them."""

    @classmethod
    def of(cls, record: HealthChanged) -> HealthReading:
        """The health a `health.changed` record reports."""
        return cls(score=record.score, grade=record.grade, previous_score=record.previous_score,
                   at=record.occurred_at, event_id=record.event_id,
                   components=tuple(sorted((name, float(v)) for name, v in record.components.items())))

    @property
    def position(self) -> tuple[datetime, str]:
        """Where the record stands among an account's health records: a later position is newer
        health (the id orders records of one instant, so every reader picks the same one)."""
        return self.at, self.event_id
