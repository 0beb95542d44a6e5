"""Event time as whole UTC days.

Every window in the domains is counted in UTC calendar days (date ordinals), so that a score
depends only on the events and on `as_of`, never on the machine's clock or time zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def require_aware(moment: datetime, name: str = "timestamp") -> datetime:
    """Return `moment` in UTC; a naive datetime is an error, never silently taken as local time."""
    if moment.tzinfo is UTC:  # already normalised (events, stored times): astimezone would return it as is
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must carry a UTC offset, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def day_number(moment: datetime) -> int:
    """The UTC calendar day of `moment` as a date ordinal."""
    return require_aware(moment).date().toordinal()


def start_of_day(day: int) -> datetime:
    return datetime.combine(date.fromordinal(day), time(0), tzinfo=UTC)


def parse_moment(text: str, name: str = "timestamp") -> datetime:
    return require_aware(datetime.fromisoformat(text), name)

