"""Scorecards: per-segment weights, grade bands, missing-data policy, critical measures, alert rules.

A scorecard is plain frozen data; its JSON form and its one way in from untrusted JSON are in
`scorecard_json`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.health.domain.calibration import Calibration

COMPONENTS = ("usage", "engagement", "sentiment", "support", "relationship")
GRADES = ("green", "yellow", "red")
GRADE_RANK = {"green": 0, "yellow": 1, "red": 2}
MISSING_DATA_POLICIES = ("exclude", "neutral", "zero")
ALERT_KINDS = ("grade_red", "score_drop", "champion_left", "usage_decline", "negative_feedback")


@dataclass(frozen=True, slots=True)
class CriticalRule:
    component: str
    fact: str
    """The component fact compared with the threshold (fires when fact >= threshold)."""
    describes: str


CRITICAL_RULES: Mapping[str, CriticalRule] = {
    "urgent_ticket_open_days": CriticalRule("support", "oldest_urgent_open_days",
                                            "an urgent ticket open for {value} days"),
    "champion_left_unreplaced": CriticalRule("relationship", "champion_unreplaced_days",
                                             "the champion left {value} days ago without replacement"),
    "exec_sponsor_left_unreplaced": CriticalRule(
        "relationship", "exec_sponsor_unreplaced_days",
        "the executive sponsor left {value} days ago without replacement"),
    "no_usage_days": CriticalRule("usage", "days_since_last_usage", "no product usage for {value} days"),
    "active_users_decline_pct": CriticalRule("usage", "active_users_decline_pct",
                                             "active users fell {value}% against the 30 days before"),
    "negative_feedback_30d": CriticalRule("sentiment", "negative_feedback_30d",
                                          "{value} negative feedback items in the last 30 days"),
}


@dataclass(frozen=True, slots=True)
class GradeThresholds:
    """Hysteresis bands: entering a grade needs more than staying in it, so a score hovering at a
    boundary does not flap. Green is entered at >= green_enter and left below green_exit; red is
    entered below red_enter and left at >= red_exit."""

    green_enter: float = 82.0
    green_exit: float = 77.0
    red_enter: float = 68.0
    red_exit: float = 73.0


@dataclass(frozen=True, slots=True)
class CriticalMeasure:
    component: str
    rule: str
    threshold: float
    force_grade: str
    """`red` forces red; `yellow` caps the grade at yellow. A critical measure never improves a grade."""


@dataclass(frozen=True, slots=True)
class Targets:
    """What "enough" looks like for this segment's engagement and relationship."""

    touches_per_30d: float = 3.0
    engaged_contacts: int = 3
    qbr_every_days: int | None = 90
    """None when the segment holds no QBRs (then the QBR measure is left out, not failed)."""


DEFAULT_ALERT_KINDS = frozenset(ALERT_KINDS) - {"score_drop"}
"""`score_drop` is off by default: on telemetry nobody on the project wrote it fired on noise (issue 8);
a sustained red grade and a sustained usage decline carry the same news with far fewer false alarms."""


@dataclass(frozen=True, slots=True)
class AlertRules:
    cooldown_days: int = 30
    renewal_critical_days: int = 90
    budget: int = 1
    budget_days: int = 182
    """At most `budget` new episodes per account and family of trouble (health, relationships,
    sentiment) in any `budget_days`; the rest are recorded as suppressed (an open alert still escalates).
    About one alert per account every two quarters is what account managers keep reading. No exception
    for critical ones: on monthly contracts every alert is near a renewal, and the budget would leak."""
    enabled: frozenset[str] = DEFAULT_ALERT_KINDS
    grade_red_sustain_days: int = 7
    """A grade must have held this long (at every point) before it alerts: one bad week is news, one
    bad day is noise."""
    score_drop_points: float = 15.0
    score_drop_days: int = 30
    score_drop_step: float = 10.0
    score_drop_sustain_days: int = 7
    usage_decline_pct: float = 30.0
    """Active users down by this much against the 30 days before (when usage carries user ids)."""
    usage_decline_volume_pct: float = 50.0
    """Usage volume (per feature, and active days) down by this much, when there are no user ids."""
    usage_decline_max_usage_score: float = 68.0
    """...and only while the usage component is below this (a fall to a still healthy level is not a risk):
    the grades' red line (`red_enter`), i.e. usage itself reads red. Not lower: after a fall of half or
    more, the component's level part (against the cohort, over 30 days) and its recency (the account
    still uses the product, less) hold it at 55-70, so at 50 the rule never fired on the archetype books
    (docs/signal-quality.md, "Why churners were missed")."""
    usage_decline_step: float = 20.0
    usage_decline_sustain_days: int = 14
    champion_left_sustain_days: int = 7
    """A departure alerts once nobody has stepped in for a week (a replacement often follows at once)."""
    negative_feedback_count: int = 3
    negative_feedback_days: int = 30

    def sustain_days(self, kind: str) -> int:
        return int(getattr(self, f"{kind}_sustain_days", 0))


@dataclass(frozen=True, slots=True)
class Scorecard:
    segment: str
    weights: Mapping[str, float]
    version: int = 1
    thresholds: GradeThresholds = GradeThresholds()
    missing_data: str = "exclude"
    """Default `exclude`: a component with no data is left out and the other weights renormalised,
    because missing data is not bad data (a new account with no survey is not a detractor).
    `neutral` scores it at `neutral_score`; `zero` scores it 0 (for teams that want gaps to hurt)."""
    neutral_score: float = 75.0
    """Between the red and green bands: an account with no data yet reads yellow, "not judged"."""
    targets: Targets = Targets()
    critical_measures: tuple[CriticalMeasure, ...] = ()
    alerts: AlertRules = AlertRules()
    calibration: Calibration | None = None
    """Churn probability by score and precision by alert kind, fitted on a book's history (None: unknown)."""

    def weight_shares(self) -> dict[str, float]:
        """Weights normalised to shares of 1 (they need not sum to 100 as configured)."""
        total = sum(self.weights.get(c, 0.0) for c in COMPONENTS)
        return {c: self.weights.get(c, 0.0) / total for c in COMPONENTS}


_URGENT_7_RED = CriticalMeasure("support", "urgent_ticket_open_days", 7, "yellow")
_COLLAPSE_RED = CriticalMeasure("usage", "active_users_decline_pct", 50, "red")
"""Users active on an average day halved against the 30 days before (daily active users fall further than
distinct users for the same story: a collapse inside the window shows in full)."""
# What raises an alert also keeps the grade from reading green: an account manager who sees an open
# champion_left or negative_feedback alert on a green account cannot tell which of the two to believe.
_CHAMPION_GONE_YELLOW = CriticalMeasure("relationship", "champion_left_unreplaced", 7, "yellow")
_COMPLAINING_YELLOW = CriticalMeasure("sentiment", "negative_feedback_30d", 3, "yellow")

DEFAULT_SCORECARDS: Mapping[str, Scorecard] = {
    # enterprise: relationships and engagement carry large accounts; a lost champion is critical
    "enterprise": Scorecard(
        segment="enterprise",
        weights={"usage": 25, "engagement": 25, "sentiment": 15, "support": 10, "relationship": 25},
        targets=Targets(touches_per_30d=4, engaged_contacts=4, qbr_every_days=90),
        critical_measures=(_URGENT_7_RED, _COLLAPSE_RED, _CHAMPION_GONE_YELLOW, _COMPLAINING_YELLOW,
                           CriticalMeasure("relationship", "champion_left_unreplaced", 30, "red")),
    ),
    "mid_market": Scorecard(
        segment="mid_market",
        weights={"usage": 30, "engagement": 20, "sentiment": 20, "support": 15, "relationship": 15},
        targets=Targets(touches_per_30d=2, engaged_contacts=2, qbr_every_days=120),
        critical_measures=(_URGENT_7_RED, _COLLAPSE_RED, _CHAMPION_GONE_YELLOW, _COMPLAINING_YELLOW),
    ),
    # smb: low-touch, so the product usage is most of what we can see
    "smb": Scorecard(
        segment="smb",
        weights={"usage": 45, "engagement": 10, "sentiment": 20, "support": 15, "relationship": 10},
        targets=Targets(touches_per_30d=1, engaged_contacts=1, qbr_every_days=None),
        critical_measures=(_URGENT_7_RED, _COLLAPSE_RED, _CHAMPION_GONE_YELLOW, _COMPLAINING_YELLOW),
    ),
    "default": Scorecard(
        segment="default",
        weights={"usage": 30, "engagement": 20, "sentiment": 20, "support": 15, "relationship": 15},
        targets=Targets(touches_per_30d=2, engaged_contacts=2, qbr_every_days=None),
        critical_measures=(_URGENT_7_RED, _COLLAPSE_RED, _CHAMPION_GONE_YELLOW, _COMPLAINING_YELLOW),
    ),
}


def scorecard_for(segment: str | None, scorecards: Mapping[str, Scorecard] = DEFAULT_SCORECARDS) -> Scorecard:
    """The segment's scorecard, else the `default` one."""
    if segment is not None and segment in scorecards:
        return scorecards[segment]
    return scorecards["default"]
