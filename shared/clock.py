"""The wall clock, in one place: services take it as a parameter (`clock: Clock = utc_now`) so that
tests and replays can pass their own. It stamps `emitted_at`, API writes and the passes' "now"; what
events decide is judged at their own event time, never by this."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)
