"""Manual overrides: an account manager's grade or sentiment, shown beside the computed score.

Overrides are inputs to this function, never written into the computed score, so a recompute can
not wipe them; and an expired override is reported as expired (with who set it and when it ran
out), not silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from services.health.domain.measures import ComponentScore, Part
from services.health.domain.scorecard import GRADES, Scorecard
from services.health.domain.scoring import HealthScore, combine
from shared.days import day_number, require_aware

OVERRIDE_KINDS = ("grade", "sentiment")


@dataclass(frozen=True, slots=True)
class Override:
    kind: str
    value: str | float
    """A grade (green/yellow/red) for `grade`; a 0-100 sentiment score for `sentiment`."""
    reason: str
    set_by: str
    expires_at: datetime
    """Required: an override without an end is how stale judgements outlive their reason."""

    def __post_init__(self) -> None:
        if self.kind not in OVERRIDE_KINDS:
            raise ValueError(f"kind: must be one of {', '.join(OVERRIDE_KINDS)}, got {self.kind!r}")
        if self.kind == "grade" and self.value not in GRADES:
            raise ValueError(f"value: a grade override must be one of {', '.join(GRADES)}, got {self.value!r}")
        if self.kind == "sentiment" and (
            isinstance(self.value, str | bool) or not 0 <= float(self.value) <= 100
        ):
            raise ValueError(f"value: a sentiment override must be a number 0-100, got {self.value!r}")
        if not self.reason.strip():
            raise ValueError("reason: required")
        require_aware(self.expires_at, "expires_at")

    def describe(self) -> str:
        shown = self.value if isinstance(self.value, str) else f"{self.value:g}"
        return f"{self.kind} set to {shown} by {self.set_by} ({self.reason})"


@dataclass(frozen=True, slots=True)
class EffectiveHealth:
    computed_total: float
    computed_grade: str
    effective_total: float
    effective_grade: str
    active: tuple[Override, ...] = ()
    expired: tuple[Override, ...] = ()
    notes: tuple[str, ...] = ()
    """One sentence per override, active or expired, e.g. "grade set to green by ann (...) until
    2026-03-01" or "... expired 3 days ago"."""

    @property
    def overridden(self) -> bool:
        return bool(self.active)


def apply_overrides(
    score: HealthScore,
    overrides: Sequence[Override],
    *,
    as_of: datetime,
    scorecard: Scorecard,
) -> EffectiveHealth:
    """The computed score with the overrides in force at `as_of` applied.

    Takes the scorecard (beyond the brief's signature) because a sentiment override changes one
    component, and the total and grade must then be re-totalled with the same weights, bands and
    critical measures. Of several active overrides of one kind, the last in `overrides` wins (pass
    them oldest first). A grade override sets the grade outright, critical measures included.
    """
    as_of = require_aware(as_of, "as_of")
    active = tuple(o for o in overrides if o.expires_at > as_of)
    expired = tuple(o for o in overrides if o.expires_at <= as_of)
    effective = score
    sentiment = next((o for o in reversed(active) if o.kind == "sentiment"), None)
    if sentiment is not None:
        value = float(sentiment.value)
        components = [
            _overridden_sentiment(c, value, sentiment) if name == "sentiment" else c
            for name, c in score.components.items()
        ]
        effective = combine(components, scorecard, as_of=score.as_of, previous_grade=score.previous_grade)
    grade = next((o for o in reversed(active) if o.kind == "grade"), None)
    notes = [f"{o.describe()} until {o.expires_at.date().isoformat()}" for o in active]
    for o in expired:
        ago = day_number(as_of) - day_number(o.expires_at)
        when = "today" if ago == 0 else ("yesterday" if ago == 1 else f"{ago} days ago")
        notes.append(f"{o.describe()} expired {when} ({o.expires_at.date().isoformat()})")
    return EffectiveHealth(
        computed_total=score.total,
        computed_grade=score.grade,
        effective_total=effective.total,
        effective_grade=str(grade.value) if grade is not None else effective.grade,
        active=active,
        expired=expired,
        notes=tuple(notes),
    )


def _overridden_sentiment(c: ComponentScore, value: float, override: Override) -> ComponentScore:
    part = Part("override", value, 1.0, override.describe())
    return replace(c, score=value, parts=(part,), missing=None,
                   facts={**c.facts, "computed_score": c.score, "override": value})


OverrideAction = Literal["set", "changed", "expired", "removed"]


def override_changes(
    current_expires_at: datetime | None, *, now: datetime, removing: bool
) -> list[tuple[OverrideAction, datetime]]:
    """What an override's history records when a person sets or removes one (`removing`), given the
    one in place (its expiry, None when there is none), oldest first. An override that ran out
    before this change is recorded as expired at its expiry first: nobody acted then, yet the
    history must show when it stopped counting. Setting over an active one is a change."""
    changes: list[tuple[OverrideAction, datetime]] = []
    active = current_expires_at is not None and current_expires_at > now
    if current_expires_at is not None and not active:
        changes.append(("expired", current_expires_at))
    if removing:
        if current_expires_at is not None:
            changes.append(("removed", now))
    else:
        changes.append(("changed" if active else "set", now))
    return changes
