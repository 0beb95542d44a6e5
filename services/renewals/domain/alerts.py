"""When a renewal is at risk: the `renewal_at_risk` alert's raise, escalation, reminders and resolve.

A pending renewal inside its window whose risk is high or critical holds an alert at that severity.
The alert is raised once per episode and escalated (a new event) when the severity rises; it stays
at its highest severity until it clears (risk back below high, the renewal renewed or churned, or
the date passed), which resolves it and ends the episode. While it is open, crossing a reminder
window (by default 120, 90, 60 and 30 days before the date) re-raises it once per window, as a
reminder: the window it was raised in counts as reminded. Ids are deterministic per renewal,
episode and severity or window, so a replay re-emits the same ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from services.renewals.domain.renewals import Renewal, in_window
from services.renewals.domain.risk import RISK_BANDS, RiskBand
from shared.events import deterministic_event_id
from shared.health_reading import HealthReading
from shared.periods import utc_day

ALERTING_BANDS: frozenset[RiskBand] = frozenset({"high", "critical"})
DEFAULT_REMINDER_DAYS: tuple[int, ...] = (120, 90, 60, 30)

Action = Literal["raised", "escalated", "reminded", "resolved"]


@dataclass(frozen=True)
class AlertState:
    """What renewals remembers of one renewal between judgements."""

    severity: RiskBand | None = None
    """The open alert's severity; None when no alert is open."""
    episode: int = 0
    band: RiskBand | None = None
    """The risk band of the renewal's latest judgement while it was pending: once it closes, the band
    the book's history pairs with its outcome (see forecast)."""
    reminded: int | None = None
    """The smallest reminder window (days) the open alert has been raised or reminded in."""
    since: datetime | None = None
    """When the latest episode's alert was raised."""


@dataclass(frozen=True)
class AlertDecision:
    renewal: Renewal
    action: Action
    severity: RiskBand
    event_id: str
    state: AlertState
    """The renewal's alert state after this decision."""
    at: datetime
    health: HealthReading
    reminder_days: int | None = None

    @property
    def days_to_renewal(self) -> int:
        return (self.renewal.renewal_date - utc_day(self.at)).days

    @property
    def alert_id(self) -> str:
        """One per renewal and episode: ties the raise, its escalations, reminders and resolve together."""
        return deterministic_event_id("renewal_at_risk", self.renewal.renewal_id, str(self.state.episode))


def reminder_window(days_to_renewal: int, reminders: Sequence[int]) -> int | None:
    """The smallest reminder window the renewal is inside (days to renewal at most the window)."""
    inside = [w for w in reminders if 0 <= days_to_renewal <= w]
    return min(inside) if inside else None


def decide_alert(
    renewal: Renewal, state: AlertState, health: HealthReading, *, at: datetime, window_days: int,
    reminders: Sequence[int] = DEFAULT_REMINDER_DAYS,
) -> AlertDecision | None:
    today = utc_day(at)
    days = (renewal.renewal_date - today).days
    band = renewal.risk.band
    at_risk = (renewal.outcome is None and band in ALERTING_BANDS
               and in_window(renewal.renewal_date, today=today, window_days=window_days))
    rid = renewal.renewal_id
    if at_risk and state.severity is None:
        episode = state.episode + 1
        event_id = deterministic_event_id("renewal_at_risk", rid, str(episode), band)
        return AlertDecision(renewal, "raised", band, event_id,
                             replace(state, severity=band, episode=episode, reminded=reminder_window(days, reminders),
                                     since=at), at, health)
    if at_risk and state.severity is not None:
        if RISK_BANDS.index(band) > RISK_BANDS.index(state.severity):
            event_id = deterministic_event_id("renewal_at_risk", rid, str(state.episode), band)
            return AlertDecision(renewal, "escalated", band, event_id, replace(state, severity=band), at, health)
        window = reminder_window(days, reminders)
        if window is None or (state.reminded is not None and window >= state.reminded):
            return None
        event_id = deterministic_event_id("renewal_at_risk", rid, str(state.episode), "reminder", str(window))
        return AlertDecision(renewal, "reminded", state.severity, event_id, replace(state, reminded=window), at,
                             health, reminder_days=window)
    if state.severity is None:
        return None
    event_id = deterministic_event_id("renewal_at_risk", rid, str(state.episode), "resolved")
    return AlertDecision(renewal, "resolved", state.severity, event_id,
                         replace(state, severity=None, reminded=None), at, health)
