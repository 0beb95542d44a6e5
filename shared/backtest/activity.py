"""Plain 30-day activity metrics per snapshot, from the raw `usage.recorded` events: what the
supervised baseline learns from ("Fighting Churn With Data": events, active days, active users,
change against the prior period, tenure). Computed here, independently of any service's domain, so
that the baseline never inherits a scorecard's mistakes.

"Events" is the sum of `quantity` (1 when absent), so a per-event export and a daily-count export
of the same behaviour give the same figure. Active users are unknown (None), not zero, for an
account that has never sent a user id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from shared.events import Envelope, UsageRecorded

WINDOW_DAYS = 30


@dataclass(frozen=True, slots=True)
class Activity:
    events: float
    active_days: int
    features: int
    users: int | None
    prior_events: float
    prior_active_days: int
    tenure_days: int


@dataclass(slots=True)
class _Day:
    quantity: float = 0.0
    features: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class UsageDays:
    """One account's usage per UTC day (ordinal), and when it first sent a user id."""

    days: dict[int, _Day]
    first_user_at: datetime | None
    first_seen: date | None


def usage_days(events: Iterable[Envelope]) -> UsageDays:
    days: dict[int, _Day] = {}
    first_user_at: datetime | None = None
    first_seen: date | None = None
    for e in events:
        day = e.occurred_at.astimezone(UTC).date()
        first_seen = day if first_seen is None or day < first_seen else first_seen
        if not isinstance(e.data, UsageRecorded):
            continue
        bucket = days.setdefault(day.toordinal(), _Day())
        bucket.quantity += float(e.data.quantity)
        bucket.features.add(e.data.feature)
        if e.data.user_id:
            bucket.users.add(e.data.user_id)
            if first_user_at is None or e.occurred_at < first_user_at:
                first_user_at = e.occurred_at
    return UsageDays(days, first_user_at, first_seen)


def activity_at(usage: UsageDays, at: datetime, *, customer_since: date | None) -> Activity:
    """Metrics over the 30 UTC days ending on `at`'s day and the 30 before them. The snapshot is
    taken at the end of its day, so that day counts whole."""
    today = at.astimezone(UTC).date().toordinal()
    recent = [usage.days[d] for d in range(today - WINDOW_DAYS + 1, today + 1) if d in usage.days]
    prior = [usage.days[d] for d in range(today - 2 * WINDOW_DAYS + 1, today - WINDOW_DAYS + 1) if d in usage.days]
    knows_users = usage.first_user_at is not None and usage.first_user_at <= at
    since = customer_since or usage.first_seen
    return Activity(
        events=sum(d.quantity for d in recent),
        active_days=sum(1 for d in recent if d.quantity > 0 or d.features),
        features=len(set().union(*(d.features for d in recent))) if recent else 0,
        users=len(set().union(*(d.users for d in recent))) if knows_users and recent else (0 if knows_users else None),
        prior_events=sum(d.quantity for d in prior),
        prior_active_days=sum(1 for d in prior if d.quantity > 0 or d.features),
        tenure_days=max(0, today - since.toordinal()) if since else 0,
    )

