"""When a renewal is at risk: the `renewal_at_risk` alert's raise, escalation and resolve.

A pending renewal inside its window whose risk is high or critical holds an alert at that severity.
The alert is raised once per episode and escalated (a new event) when the severity rises; it stays
at its highest severity until it clears (risk back below high, the renewal renewed or churned, or
the window passed), which resolves it and ends the episode. Ids are deterministic per renewal,
episode and severity, so a replay re-emits the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from services.renewals.domain.renewals import Renewal, in_window
from services.renewals.domain.risk import RISK_BANDS, RiskBand
from shared.events import deterministic_event_id

ALERTING_BANDS: frozenset[RiskBand] = frozenset({"high", "critical"})


@dataclass(frozen=True)
class AlertState:
    severity: RiskBand | None = None
    episode: int = 0


@dataclass(frozen=True)
class AlertDecision:
    renewal: Renewal
    action: Literal["raised", "resolved"]
    severity: RiskBand
    event_id: str
    state: AlertState
    """The renewal's alert state after this decision."""

    @property
    def days_to_renewal(self) -> int:
        return (self.renewal.renewal_date - self.on).days

    on: date


def decide_alert(renewal: Renewal, state: AlertState, *, today: date, window_days: int) -> AlertDecision | None:
    at_risk = (renewal.outcome is None and renewal.risk.band in ALERTING_BANDS
               and in_window(renewal.renewal_date, today=today, window_days=window_days))
    if at_risk:
        band = renewal.risk.band
        if state.severity is not None and RISK_BANDS.index(band) <= RISK_BANDS.index(state.severity):
            return None
        episode = state.episode if state.severity is not None else state.episode + 1
        event_id = deterministic_event_id("renewal_at_risk", renewal.renewal_id, str(episode), band)
        return AlertDecision(renewal, "raised", band, event_id, AlertState(band, episode), today)
    if state.severity is None:
        return None
    event_id = deterministic_event_id("renewal_at_risk", renewal.renewal_id, str(state.episode), "resolved")
    return AlertDecision(renewal, "resolved", state.severity, event_id, AlertState(None, state.episode), today)
