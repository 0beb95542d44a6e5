"""The health downstream services read from `health.changed` (renewals' risk trail, expansion's
health gate): one typed reading, ordered by event time and then id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.events import HealthChanged
from shared.health_reading import HealthReading

pytestmark = pytest.mark.unit

ON = datetime(2026, 6, 1, tzinfo=UTC)


def _record(event_id: str, *, on: datetime = ON) -> HealthChanged:
    return HealthChanged(event_id=event_id, account_id="acc", occurred_at=on, emitted_at=on + timedelta(minutes=1),
                         score=41.5, grade="red", previous_score=72.0, components={"usage": 30, "support": 55.5},
                         as_of=on)


def test_a_reading_is_what_the_record_says_at_its_event_time() -> None:
    assert HealthReading.of(_record("h1")) == HealthReading(
        score=41.5, grade="red", previous_score=72.0, at=ON, event_id="h1",
        components=(("support", 55.5), ("usage", 30.0)))


def test_readings_are_ordered_by_event_time_then_id() -> None:
    later = HealthReading.of(_record("a", on=ON + timedelta(seconds=1)))
    same_instant = [HealthReading.of(_record(i)) for i in ("b", "a")]
    assert sorted([later, *same_instant], key=lambda r: r.position) == [same_instant[1], same_instant[0], later]
