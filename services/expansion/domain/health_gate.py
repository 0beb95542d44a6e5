"""The health gate: no upsell to an account that is red or has an open churn-risk alert.

The gate is folded from `health.changed` (the latest grade) and the churn-risk topic (the alerts
still open, by `alert_id`: a raise, an escalation or a reminder opens or keeps one open, a resolve
closes it; expansion's own revenue_health_divergence records are not a reason to hold: their cause,
falling health, reaches the gate as health records, and ARR falling while health rises is no reason
to stop selling). While it is shut, a trigger that would open an opportunity is kept as *held*, with why,
instead; the held set is what would fire now, re-judged at every event like the triggers themselves.
When the gate opens again (not red, no alert open), the rules run at that event as at any other, so
a held trigger whose condition still holds fires then, with the id it would have had, and one that
no longer holds is simply gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Final

from shared.events import ChurnRiskAlert, HealthChanged
from shared.health_reading import HealthReading

HEALTH_CHANGED: Final = "health.changed"
CHURN_RISK_TYPES: Final = frozenset({"churn_risk.raised", "churn_risk.resolved"})
GATE_EVENT_TYPES: Final = frozenset({HEALTH_CHANGED, *CHURN_RISK_TYPES})
CLOSING_ACTIONS: Final = frozenset({"resolved"})
NOT_GATING_KINDS: Final = frozenset({"revenue_health_divergence"})


@dataclass(frozen=True, slots=True)
class OpenAlert:
    kind: str
    since: datetime


@dataclass(frozen=True, slots=True)
class Held:
    """A trigger that would have opened an opportunity but for the account's health."""

    kind: str
    product: str
    reason: str
    """The trigger's own reason (what it would sell and why)."""
    held_reason: str
    """Why it is held, in words: 'held: the account is red (health 41, 2026-11-02)'."""
    since: datetime
    """Event time it was first held (kept while it stays held)."""
    as_of: datetime
    """Event time it was last judged to hold."""
    evidence_event_ids: tuple[str, ...]
    estimated_arr_uplift: Decimal
    confidence: float


@dataclass(frozen=True)
class HealthGate:
    grade: HealthReading | None = None
    """The latest `health.changed` (its grade is what shuts the gate)."""
    open_alerts: Mapping[str, OpenAlert] = field(default_factory=dict)
    held: Mapping[tuple[str, str], Held] = field(default_factory=dict)

    def hold_reason(self) -> str | None:
        """Why no trigger may fire now, in words; None when the gate is open."""
        why = []
        if self.grade is not None and self.grade.grade == "red":
            why.append(f"the account is red (health {self.grade.score:g}, {self.grade.at.date().isoformat()})")
        for alert_id in sorted(self.open_alerts, key=lambda a: (self.open_alerts[a].since, a)):
            alert = self.open_alerts[alert_id]
            why.append(f"churn-risk alert {alert.kind} open since {alert.since.date().isoformat()}")
        return "held: " + "; ".join(why) if why else None


EMPTY_GATE = HealthGate()


def apply_gate_event(gate: HealthGate, *, event_type: str, event_id: str, occurred_at: datetime,
                     record: HealthChanged | ChurnRiskAlert) -> HealthGate:
    """Fold one `health.changed` or churn-risk record (see `GATE_EVENT_TYPES`) into the gate."""
    if isinstance(record, HealthChanged):
        reading = HealthReading.of(record)
        if gate.grade is not None and reading.position < gate.grade.position:
            return gate  # a late, older grade
        return replace(gate, grade=reading)
    if record.kind in NOT_GATING_KINDS:
        return gate
    # Without an `alert_id` (an extension), the kind stands for the alert.
    alert_id = record.alert_id or record.kind
    alerts = dict(gate.open_alerts)
    if event_type == "churn_risk.resolved" or record.action in CLOSING_ACTIONS:
        alerts.pop(alert_id, None)
    else:
        opened = alerts.get(alert_id)
        alerts[alert_id] = OpenAlert(record.kind, occurred_at if opened is None else opened.since)
    return replace(gate, open_alerts=alerts)


def with_held(gate: HealthGate, held: list[Held]) -> HealthGate:
    """The gate holding exactly `held` (what would fire now), each keeping the time it was first held."""
    kept = {(h.kind, h.product): h for h in held}
    for key, h in kept.items():
        previous = gate.held.get(key)
        if previous is not None:
            kept[key] = replace(h, since=previous.since)
    return replace(gate, held=kept)
