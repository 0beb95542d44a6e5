"""Building blocks of a component score: parts, facts, and window queries over AccountSignals.

A component (usage, engagement, ...) is the weighted mean of its parts (utilisation, trend, ...).
Each part carries the sentence that explains it and the event ids behind it, so explanations are
written where the numbers are known. Inside a component a part without data is always left out
(its weight renormalised over the other parts); the scorecard's missing-data policy applies to
whole components.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from services.health.domain.contracts import ContractSummary
from services.health.domain.norms import EMPTY_NORMS, CohortNorms
from services.health.domain.scorecard import Targets
from services.health.domain.signals import HORIZON_DAYS, AccountSignals, Departure

Fact = int | float | str | None


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    score: float | None
    weight: float
    detail: str
    evidence_event_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ComponentScore:
    name: str
    score: float | None
    """0-100, or None when the account has no data for this component at all."""
    facts: Mapping[str, Fact] = field(default_factory=dict)
    parts: tuple[Part, ...] = ()
    missing: str | None = None
    """Why the component has no score (e.g. "no product usage recorded yet")."""
    weight: float = 0.0
    """Share of this component in the scorecard's weights (0-1)."""
    effective_weight: float = 0.0
    """Share actually used in the total after the missing-data policy (0-1)."""


@dataclass(frozen=True, slots=True)
class ScoringContext:
    as_of_day: int
    days_known: int
    """Days since the account's first event, at least 1: windows shorter than our knowledge of the
    account are pro-rated, so a week-old account is not judged on a month of silence."""
    tenure_days: int
    """Days since the first contract started (days_known when no contract is known)."""
    contract: ContractSummary
    targets: Targets
    norms: CohortNorms = EMPTY_NORMS
    """Where the account's usage stands among similar accounts (none yet: judged on its own)."""


def component(name: str, parts: Sequence[Part], facts: Mapping[str, Fact]) -> ComponentScore:
    scored = [p for p in parts if p.score is not None]
    weight = sum(p.weight for p in scored)
    if weight <= 0:
        return ComponentScore(name, None, facts, tuple(parts), missing="no measurable data")
    total = sum(p.weight * (p.score or 0.0) for p in scored) / weight
    return ComponentScore(name, round(total, 1), facts, tuple(parts))


def missing_component(name: str, reason: str, facts: Mapping[str, Fact] | None = None) -> ComponentScore:
    return ComponentScore(name, None, facts or {}, (), missing=reason)


def ramp(value: float, good: float, bad: float) -> float:
    """100 at `good` or better, 0 at `bad` or worse, linear between (either direction)."""
    if good == bad:
        return 100.0 if value == good else 0.0
    share = (value - bad) / (good - bad)
    return round(100.0 * min(1.0, max(0.0, share)), 1)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def days_ago(days: int) -> str:
    return "today" if days <= 0 else ("yesterday" if days == 1 else f"{days} days ago")


def pct(part: float, whole: float) -> int:
    return round(100 * part / whole) if whole else 0


# --- window queries (days are inclusive UTC day ordinals) ------------------------------------------


def _window_mask(latest_day: int, first: int, last: int) -> int:
    low, high = max(first, latest_day - HORIZON_DAYS + 1), min(last, latest_day)
    if low > high:
        return 0
    return ((1 << (high - low + 1)) - 1) << (latest_day - high)


def window_users(signals: AccountSignals, first: int, last: int) -> tuple[int, int]:
    """`active_users` and `user_days` of [first, last] in one pass."""
    if signals.latest_day is None:
        return 0, 0
    window = _window_mask(signals.latest_day, first, last)
    users = days = 0
    for mask in signals.user_activity.values():
        if hit := mask & window:
            users += 1
            days += hit.bit_count()
    return users, days


def active_users(signals: AccountSignals, first: int, last: int) -> int:
    """Distinct users active in the days [first, last]."""
    if signals.latest_day is None:
        return 0
    window = _window_mask(signals.latest_day, first, last)
    return sum(1 for mask in signals.user_activity.values() if mask & window)


def unreplaced_departures(signals: AccountSignals, as_of_day: int) -> list[Departure]:
    """Champion / sponsor departures up to `as_of_day` that no one has stepped into since.

    A replacement is any contact active on `as_of_day` who took the same role after the
    departure (joined with it, or changed into it), including the same person coming back.
    """
    if not signals.departures:
        return []
    roles_taken = [c for c in signals.contacts.values() if c.active and c.since.day <= as_of_day]
    return [
        d for d in signals.departures
        if d.stamp.day <= as_of_day
        and not any(c.role == d.role and c.since.key > d.stamp.key for c in roles_taken)
    ]


def contact_label(departure: Departure) -> str:
    role = "champion" if departure.role == "champion" else "executive sponsor"
    who = f"{departure.name} ({departure.contact_id})" if departure.name else departure.contact_id
    return f"{role} {who}"
