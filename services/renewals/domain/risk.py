"""Renewal risk from the account's latest health (consumed from `orchard.account-health.v1`).

    no health score yet      medium  (unknown is not safe, but no alert is raised on it)
    grade green              low
    grade yellow             medium
    grade red                high; critical when the score is below 25
    score fell 15+ points    one band higher (the change that produced the latest score)

Seat utilisation and contacts are not judged here (renewals does not consume usage or contacts);
health already weighs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

RiskBand = Literal["low", "medium", "high", "critical"]
RISK_BANDS: tuple[RiskBand, ...] = ("low", "medium", "high", "critical")
CRITICAL_SCORE_BELOW = 25.0
SHARP_DROP_POINTS = 15.0


@dataclass(frozen=True)
class Health:
    score: float
    grade: str
    previous_score: float | None
    at: datetime
    event_id: str


@dataclass(frozen=True)
class RiskReason:
    component: str
    delta: float
    detail: str
    evidence_event_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Risk:
    band: RiskBand
    reasons: tuple[RiskReason, ...]


def assess_risk(health: Health | None) -> Risk:
    if health is None:
        return Risk("medium", (RiskReason("health", 0.0, "no health score received for this account yet"),))
    evidence = (health.event_id,)
    band: RiskBand
    if health.grade == "red":
        band = "critical" if health.score < CRITICAL_SCORE_BELOW else "high"
    elif health.grade == "yellow":
        band = "medium"
    else:
        band = "low"
    reasons = [RiskReason("health", 0.0, f"health is {health.grade} at {health.score:g}", evidence)]
    if health.previous_score is not None and health.previous_score - health.score >= SHARP_DROP_POINTS:
        drop = health.previous_score - health.score
        reasons.append(RiskReason("health", -drop, f"score fell {drop:g} points (from {health.previous_score:g} "
                                                   f"to {health.score:g})", evidence))
        band = RISK_BANDS[min(RISK_BANDS.index(band) + 1, len(RISK_BANDS) - 1)]
    return Risk(band, tuple(reasons))


def later_health(current: Health | None, candidate: Health) -> Health:
    """The newer of two health records (event time, then id): a late record never wins."""
    if current is None or (candidate.at, candidate.event_id) > (current.at, current.event_id):
        return candidate
    return current
