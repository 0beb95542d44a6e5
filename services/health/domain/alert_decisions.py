"""What the churn-risk alert rules decide, and the state they keep: an open alert per kind, each
decision (raised, escalated, resolved) with the contract's fields, and what was held back.

Ids are deterministic (`shared.events.deterministic_event_id` in health's own namespace,
`HEALTH_ALERT_IDS`): alert id = uuid5 of "account|kind|#n" for the account's n-th
episode of that kind, counted in the account's state; the same events evaluated at the same points
(a replay, a crash and redelivery, another batching) count the same episodes and give the same ids,
and two episodes never share one. The episode start (the departure's time, the first negative item
of the run, else the UTC day the condition was first seen) is reported, not part of the id. Event
ids derive from the alert id and the step they record (`step_event_id`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, get_args

from shared.events import HEALTH_ALERT_IDS, AlertSeverity, deterministic_event_id
from shared.reasons import Reason

HealthAlertAction = Literal["raised", "escalated", "resolved"]

SEVERITIES: tuple[AlertSeverity, ...] = get_args(AlertSeverity)
"""Lowest first."""


def alert_id(account_id: str, kind: str, episode: int) -> str:
    """The id of the account's `episode`-th alert of `kind` (1, 2, ...). Counting episodes, rather than
    naming them by a time, is what keeps two episodes apart whatever the times say: two episodes
    can share a start day (a condition that resolves and returns the same day), and the time an
    episode is detected at is not always its own (a late event is evaluated at the latest point)."""
    if episode < 1:
        raise ValueError(f"episodes are counted from 1, got {episode}")
    return deterministic_event_id(account_id, kind, f"#{episode}", namespace=HEALTH_ALERT_IDS)


def step_event_id(alert_id: str, *step: str) -> str:
    """The event id of one step of an alert: ("raised",), ("escalated", severity, bucket), ("resolved",)."""
    return deterministic_event_id(alert_id, *step, namespace=HEALTH_ALERT_IDS)


@dataclass(frozen=True, slots=True)
class OpenAlert:
    alert_id: str
    kind: str
    severity: AlertSeverity
    episode_start: datetime
    raised_at: datetime
    magnitude: float
    """How bad when last (re)raised: points dropped, % decline, departures, negative items."""
    baseline: float | None = None
    """What recovery is measured against: the pre-drop score, the prior active users."""


@dataclass(frozen=True, slots=True)
class AlertDecision:
    action: HealthAlertAction
    alert_id: str
    event_id: str
    kind: str
    severity: AlertSeverity
    episode_start: datetime
    occurred_at: datetime
    magnitude: float
    baseline: float | None
    score: float
    previous_score: float | None
    grade: str
    reasons: tuple[Reason, ...]
    renewal_date: date | None = None
    days_to_renewal: int | None = None
    arr_at_risk: Decimal | None = None
    churn_probability: float | None = None
    """From the scorecard's calibration: the share of accounts at this score that churned (None: not calibrated)."""
    kind_precision: float | None = None
    """From the scorecard's calibration: the share of this kind's past alerts followed by churn or contraction."""

    @property
    def event_type(self) -> str:
        return "churn_risk.resolved" if self.action == "resolved" else "churn_risk.raised"

    def open_alert(self) -> OpenAlert | None:
        """The open-alert state to store after this decision (None once resolved)."""
        if self.action == "resolved":
            return None
        return OpenAlert(self.alert_id, self.kind, self.severity, self.episode_start, self.occurred_at,
                         self.magnitude, self.baseline)


@dataclass(frozen=True, slots=True)
class Suppressed:
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class AlertDecisions:
    raised: tuple[AlertDecision, ...] = ()
    """New alerts and escalations of open ones (both are `churn_risk.raised`)."""
    resolved: tuple[AlertDecision, ...] = ()
    suppressed: tuple[Suppressed, ...] = ()
    onsets: Mapping[str, datetime] = field(default_factory=dict)
    """kind -> since when its condition has held without a break (for the sustain rule)."""

    @property
    def decisions(self) -> tuple[AlertDecision, ...]:
        return self.raised + self.resolved
