"""Request and response models of the health API (they are what /docs shows)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.money import Money

Grade = Literal["green", "yellow", "red"]
Cause = Literal["event", "schedule", "scorecard"]


class ScorecardRef(BaseModel):
    segment: str = Field(description="The scorecard's segment (`default` when the account's has none).")
    version: int


class Reason(BaseModel):
    component: str = Field(description="A component, `overall`, or `scorecard` for a configuration change.")
    delta: float = Field(description="Points of the total score this reason moved (or costs).")
    detail: str = Field(description="In words, e.g. 'active users fell from 48 to 19 of 60 seats over 30 days'.")
    evidence_event_ids: list[str] = Field(description="The input events behind it.")


class Part(BaseModel):
    name: str
    score: float | None
    weight: float
    detail: str
    evidence_event_ids: list[str]


class Component(BaseModel):
    score: float | None = Field(description="0-100; null when the account has no data for it yet.")
    weight: float = Field(description="Share of the scorecard's weights (0-1).")
    effective_weight: float = Field(description="Share used in the total after the missing-data policy.")
    missing: str | None = Field(description="Why there is no score, when there is none.")
    facts: dict[str, int | float | str | None]
    parts: list[Part]


class Override(BaseModel):
    kind: Literal["grade", "sentiment"]
    value: str | float
    reason: str
    set_by: str
    set_at: datetime
    expires_at: datetime
    status: Literal["active", "expired"]


class Effective(BaseModel):
    score: float = Field(description="The score after a sentiment override (the computed one without).")
    grade: Grade = Field(description="The grade after overrides: what an account manager sees.")
    overridden: bool
    notes: list[str] = Field(description="One sentence per override, active or expired.")


class LastChange(BaseModel):
    as_of: datetime
    cause: Cause
    previous_score: float | None
    previous_grade: Grade | None
    reasons: list[Reason]


class Alert(BaseModel):
    alert_id: str
    account_id: str
    kind: str
    severity: Literal["low", "medium", "high", "critical"]
    status: Literal["open", "resolved"]
    episode_start: datetime
    raised_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    score: float | None
    previous_score: float | None
    grade: Grade | None
    reasons: list[Reason]
    renewal_date: date | None
    days_to_renewal: int | None
    arr_at_risk: Money | None
    churn_probability: float | None = Field(
        None, description="Share of accounts at this score that churned, from the scorecard's calibration "
                          "(null when the scorecard has none)")
    kind_precision: float | None = Field(
        None, description="Share of this kind's past alerts followed by churn or contraction, from the "
                          "scorecard's calibration (null when the scorecard has none)")
    acknowledged: bool
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    acknowledged_note: str | None
    origin: Literal["health", "topic"] = Field(
        description="`health`: raised by this service; `topic`: read from the churn-risk topic, raised by another "
                    "service (renewals' `renewal_at_risk`, ...).")
    owner: str | None = Field(None, description="The account's manager, from the latest account.updated.")
    account_name: str | None = Field(None, description="From the latest account.updated.")
    snoozed_until: datetime | None = Field(None, description="Hidden from `snoozed=false` lists until then.")
    snoozed_by: str | None = None
    assigned_to: str | None = None
    assigned_by: str | None = None
    assigned_at: datetime | None = None


class AccountHealth(BaseModel):
    account_id: str
    name: str | None = Field(None, description="From the latest account.updated (CRM).")
    owner: str | None = Field(None, description="The account manager, from the latest account.updated.")
    segment: str | None
    score: float = Field(description="Computed score 0-100.")
    grade: Grade = Field(description="Computed grade.")
    as_of: datetime = Field(description="The moment the score describes (event time, or the scheduler's now).")
    scored_at: datetime = Field(description="When it was computed.")
    last_event_at: datetime | None
    scorecard: ScorecardRef
    coverage: float = Field(description="Share of the scorecard's weight backed by data (0-1).")
    components: dict[str, Component]
    forced_by: str | None = Field(description="The critical measure that set the grade, if one did.")
    forced_detail: str | None
    churn_probability: float | None = Field(
        None, description="Share of accounts at this score that churned within 90 days, from the scorecard's "
                          "calibration (null when the scorecard has none)")
    trend: dict[str, float | None] = Field(
        description="Score change over `7d`, `30d`, `90d`; null where history does not reach back so far.")
    reasons: list[Reason] = Field(description="The main drivers of the current score, biggest first.")
    last_change: LastChange | None = Field(description="Why the score last changed.")
    effective: Effective
    overrides: list[Override]
    open_alerts: list[Alert]
    arr: Money | None
    currency: str | None
    renewal_date: date | None
    days_to_renewal: int | None


class HistoryEntry(BaseModel):
    as_of: datetime
    score: float
    grade: Grade
    previous_score: float | None
    previous_grade: Grade | None
    components: dict[str, float | None]
    component_deltas: dict[str, float | None]
    reasons: list[Reason]
    scorecard: ScorecardRef
    cause: Cause = Field(description="`event`: new events; `schedule`: time passed; `scorecard`: config changed.")
    recorded_at: datetime


class AccountSummary(BaseModel):
    account_id: str
    name: str | None = Field(None, description="From the latest account.updated (CRM).")
    owner: str | None = Field(None, description="The account manager, from the latest account.updated.")
    segment: str | None
    score: float
    grade: Grade
    effective_grade: Grade = Field(description="The grade after an active grade override.")
    scorecard: ScorecardRef
    arr: Money | None
    currency: str | None
    renewal_date: date | None
    as_of: datetime
    last_event_at: datetime | None


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str | float = Field(description="A grade (green/yellow/red) or a sentiment score 0-100.")
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: AwareDatetime = Field(description="Required and in the future: overrides run out visibly.")


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


class SnoozeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    until: AwareDatetime | None = Field(description="Snoozed until then (in the future); null wakes it now.")


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(min_length=1, max_length=200,
                                 description="Who works on it (an email address or a name); null unassigns.")


class TimelineEntry(BaseModel):
    kind: Literal["interaction", "ticket", "survey", "contact", "contract", "account", "usage", "score", "alert"]
    type: str = Field(description="The input event's type; `usage.daily` for a day's usage of a feature; "
                                  "`health.changed` for a score change; `churn_risk` for an alert.")
    at: datetime = Field(description="When it happened (event time); a usage roll-up's day starts at 00:00 UTC.")
    entry_id: str = Field(description="Unique in the account's timeline.")
    event_id: str | None = Field(description="The input event's id (null for roll-ups, score changes and alerts).")
    summary: str = Field(description="In words.")
    data: dict[str, Any] = Field(description="The event's data; a roll-up's feature, quantity and events; a score "
                                             "change's scores and reasons; an alert's kind, severity and status.")


class OverrideHistoryEntry(BaseModel):
    kind: Literal["grade", "sentiment"]
    action: Literal["set", "changed", "expired", "removed"]
    at: datetime
    by: str = Field(description="The API key's name; `system` for an expiry.")
    value: str | float | None
    reason: str | None = Field(description="Why it was set or changed (or removed, when the remover said).")
    expires_at: datetime | None


class Scorecard(BaseModel):
    segment: str
    version: int
    created_by: str
    created_at: datetime
    config: dict[str, Any] = Field(description="Weights, grade thresholds, missing-data policy, targets, "
                                               "critical measures and alert rules.")


class ScorecardList(BaseModel):
    items: list[Scorecard]


class ScorecardIn(BaseModel):
    """A scorecard: validated by the health domain, which reports every problem with its field path.
    The segment comes from the path, the version is assigned on publishing."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": {
        "weights": {"usage": 30, "engagement": 20, "sentiment": 20, "support": 15, "relationship": 15},
        "thresholds": {"green_enter": 70, "green_exit": 65, "red_enter": 40, "red_exit": 45},
        "missing_data": "exclude",
        "critical_measures": [{"component": "support", "rule": "urgent_ticket_open_days", "threshold": 7,
                               "force_grade": "red"}],
        "alerts": {"cooldown_days": 14, "score_drop": {"points": 15, "within_days": 30}},
    }})

    weights: Any = Field(default=None, description="Required. Component -> weight >= 0 (normalised; they "
                                                   "need not sum to 100).")
    thresholds: Any = Field(default=None, description="Required. green_enter, green_exit, red_enter, red_exit "
                                                      "(hysteresis bands).")
    missing_data: Any = Field(default=None, description="`exclude` (default), `neutral` or `zero`.")
    neutral_score: Any = Field(default=None)
    targets: Any = Field(default=None, description="touches_per_30d, engaged_contacts, qbr_every_days.")
    critical_measures: Any = Field(default=None, description="[{component, rule, threshold, force_grade}]")
    alerts: Any = Field(default=None, description="cooldown_days, renewal_critical_days and per-kind rules.")
    calibration: Any = Field(default=None, description="Optional, as `python -m services.health.backtest.calibrate` "
                             "writes it: churn_probability [{min_score, probability}], kind_precision "
                             "{kind: 0..1}, source. Alerts then carry churn_probability and kind_precision.")


class ScorecardPublished(BaseModel):
    scorecard: Scorecard
    rescored_accounts: int = Field(description="Accounts rescored with the new version before this reply.")
    changed_scores: int
    alerts: int = Field(description="Alert decisions (raised, escalated, resolved) the rescore made.")


class GradeChange(BaseModel):
    account_id: str
    score: float | None
    grade: Grade | None
    candidate_score: float
    candidate_grade: Grade


class ScorecardPreview(BaseModel):
    segment: str
    accounts: int = Field(description="Accounts the candidate would score.")
    grade_changes: int = Field(description="How many of them would change grade.")
    grades_now: dict[str, int]
    grades_candidate: dict[str, int]
    changes: list[GradeChange] = Field(description="Up to 100 of the accounts that would change grade.")
