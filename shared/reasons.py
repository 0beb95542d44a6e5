"""One line of "why" behind a score, a risk or an alert, as health, renewals and expansion build
them: which component moved, by how much, in words, and the events behind it. `alert_reasons` makes
them the `AlertReason`s every `churn_risk.*` record carries (CONTRACT.md)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.events import AlertReason

DETAIL_MAX = 2_000
"""The longest detail a published reason carries (AlertReason's bound); a longer one is cut."""


@dataclass(frozen=True, slots=True)
class Reason:
    component: str
    delta: float
    detail: str
    evidence_event_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"component": self.component, "delta": self.delta, "detail": self.detail,
                "evidence_event_ids": list(self.evidence_event_ids)}


def alert_reasons(reasons: Iterable[Reason]) -> tuple[AlertReason, ...]:
    """The reasons as published: the detail cut to `DETAIL_MAX`, the component standing in for an
    empty one (a published detail is never empty)."""
    return tuple(
        AlertReason(component=r.component, delta=r.delta, detail=r.detail[:DETAIL_MAX] or r.component,
                    evidence_event_ids=r.evidence_event_ids)
        for r in reasons
    )
