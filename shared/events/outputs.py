"""Output events (contract, "Output events"); their ids come from ``shared.events.ids``.

Services build these and publish them through the outbox; the other services read some of them
back (renewals and expansion read ``health.changed``, health's inbox and expansion read churn-risk
alerts). Unknown fields are ignored when reading (``extra="ignore"``): a producer may add a field
before its readers are redeployed, and the contract allows extra fields.

A churn-risk alert and an upsell trigger are one model each, whoever raises them: the contract's
fields plus Orchard's own (``extensions``: what ties an alert's raise, escalations, reminders and
resolve together, and what a raiser adds about its kind). The model is what is published and what
is stored as the alert's payload (``published``); an extension a raiser did not set is left out, so
each raiser's records carry only its own extra fields.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from shared.events._fields import ID_MAX, Identifier, IsoDate, Name, Probability, Timestamp

Grade = Literal["green", "yellow", "red"]
AlertSeverity = Literal["low", "medium", "high", "critical"]
# Kinds are open sets in the contract ("or more"); these are the ones it names.
CHURN_RISK_KINDS: Final = (
    "score_drop",
    "grade_red",
    "champion_left",
    "usage_decline",
    "negative_feedback",
    "renewal_at_risk",
    "revenue_health_divergence",
)
UPSELL_KINDS: Final = ("seat_limit", "plan_limit", "premium_feature_use", "high_satisfaction", "whitespace")
KnownChurnRiskKind = Literal[
    "score_drop", "grade_red", "champion_left", "usage_decline", "negative_feedback", "renewal_at_risk",
    "revenue_health_divergence",
]
"""The kinds Orchard raises (the producers' type); the model's `kind` stays open for readers."""
KnownUpsellKind = Literal["seat_limit", "plan_limit", "premium_feature_use", "high_satisfaction", "whitespace"]
AlertAction = Literal["raised", "escalated", "reminded", "resolved"]
"""A step of one alert: escalations and reminders are `churn_risk.raised` too, told apart by this."""
DivergenceDirection = Literal["arr_up_health_down", "arr_down_health_up"]

Score = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
_KIND_NOTE = "an open set: readers must accept kinds they do not know; the examples are the contract's"
ChurnRiskKind = Annotated[
    str, Field(min_length=1, max_length=64, examples=list(CHURN_RISK_KINDS), description=_KIND_NOTE)
]
UpsellKind = Annotated[str, Field(min_length=1, max_length=64, examples=list(UPSELL_KINDS), description=_KIND_NOTE)]
EventIds = tuple[Annotated[str, Field(min_length=1, max_length=ID_MAX)], ...]
Amount = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


class OutputEvent(_Output):
    event_id: Identifier
    type: str
    schema_version: int = 1
    account_id: Identifier
    occurred_at: Timestamp
    emitted_at: Timestamp

    extensions: ClassVar[frozenset[str]] = frozenset()
    """Orchard's own fields beyond the contract's: published only when the raiser set them, and left
    out of the published JSON Schema (the contract's)."""

    def published(self) -> dict[str, Any]:
        """The event as published and stored: JSON-safe, without the extensions its raiser did not set."""
        return self.model_dump(mode="json", exclude=set(self.extensions - self.model_fields_set))


class AlertReason(_Output):
    """One line of "why": which component moved, by how much, in words, and the events behind it."""

    component: Name
    delta: float = Field(allow_inf_nan=False)
    detail: Annotated[str, Field(min_length=1, max_length=2_000)]
    evidence_event_ids: EventIds = ()


class HealthChanged(OutputEvent):
    type: Literal["health.changed"] = "health.changed"
    score: Score
    grade: Grade
    previous_score: Score | None = None
    previous_grade: Grade | None = None
    components: dict[str, Score]
    as_of: Timestamp
    scorecard_version: int | None = None
    reasons: tuple[AlertReason, ...] = ()


class ChurnRiskAlert(OutputEvent):
    type: Literal["churn_risk.raised", "churn_risk.resolved"] = "churn_risk.raised"
    kind: ChurnRiskKind
    severity: AlertSeverity
    score: Score
    previous_score: Score | None = None
    grade: Grade
    reasons: tuple[AlertReason, ...] = ()
    renewal_date: IsoDate | None = None
    days_to_renewal: int | None = None
    arr_at_risk: Amount | None = None
    churn_probability: Probability | None = Field(default=None, description="from calibration")
    kind_precision: Probability | None = Field(
        default=None,
        description="the share of this kind's past alerts that were followed by churn or contraction (backtest)",
    )
    # Orchard's extensions. Every raiser: what ties one alert's records together (a record without
    # `alert_id` is an alert of its own).
    alert_id: str | None = None
    action: AlertAction | None = None
    episode: int | None = None
    episode_start: datetime | None = None
    # renewal_at_risk: the renewal it is about; on a reminder, the window (days before the date).
    renewal_id: str | None = None
    contract_id: str | None = None
    currency: str | None = None
    reminder_days: int | None = None
    # revenue_health_divergence: which way ARR and health moved apart, and the ARR by currency.
    direction: DivergenceDirection | None = None
    arr_by_currency: dict[str, Decimal] | None = None

    extensions: ClassVar[frozenset[str]] = frozenset({
        "alert_id", "action", "episode", "episode_start", "renewal_id", "contract_id", "currency", "reminder_days",
        "direction", "arr_by_currency",
    })


class UpsellTriggered(OutputEvent):
    type: Literal["upsell.triggered"] = "upsell.triggered"
    kind: UpsellKind
    product: Name
    reason: Annotated[str, Field(min_length=1, max_length=2_000)]
    evidence_event_ids: EventIds = ()
    estimated_arr_uplift: Amount
    confidence: Probability
    # Orchard's extensions: the opportunity it opened (a CRM PATCHes it back) and its episode.
    opportunity_id: str | None = None
    episode: int | None = None

    extensions: ClassVar[frozenset[str]] = frozenset({"opportunity_id", "episode"})


def output_event_to_json(event: OutputEvent) -> bytes:
    """The message value for an output topic: sorted keys, UTC 'Z' timestamps, money as strings."""
    return orjson.dumps(event.published(), option=orjson.OPT_SORT_KEYS)


class DeadLetter(_Output):
    """A record of `orchard.events.dlq.v1`: a record some service could not process, with the reason
    and everything needed to replay it. Written by ``shared.dlq.dead_letter``; described here so the
    DLQ is documented (and checked) like the other topics."""

    event_id: Annotated[str, Field(min_length=1, description="dlq:<service>:<topic>:<partition>:<offset>")]
    service: Annotated[str, Field(min_length=1)]
    error: str
    error_kind: Annotated[str, Field(min_length=1, examples=["validation", "handler", "rejected"])]
    source_topic: Annotated[str, Field(min_length=1)]
    partition: int | None
    offset: int | None
    key: str | None = Field(description="the original record's key (the account_id), if it had one")
    original: str | None = Field(description="the original bytes as text; null if not UTF-8 or over 64 KiB")
    original_base64: str = Field(description="the original bytes, always")
    original_size: Annotated[int, Field(ge=0)]
    failed_at: Timestamp
