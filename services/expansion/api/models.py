"""Request and response models of the expansion API (they are what /docs shows)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from shared.fx import ByCurrency, Consolidated, ConsolidationBasis
from shared.money import Money
from shared.periods import PeriodReport, WeightedBucket
from shared.work_items import WorkItemPatch

Stage = Literal["open", "qualified", "proposed", "won", "lost", "dismissed"]


class Opportunity(BaseModel):
    opportunity_id: str = Field(description="Deterministic: uuid5 of account, kind, product and episode.")
    account_id: str
    kind: str = Field(description="seat_limit, premium_feature_use, high_satisfaction or whitespace.")
    product: str
    episode: int = Field(description="1 for the first opportunity of this account, kind and product; +1 per re-raise.")
    stage: Stage
    owner: str | None
    notes: str | None
    estimated_arr_uplift: Money
    confidence: float
    reason: str = Field(description="In words, e.g. '58 of 60 seats active in the last 30 days (97%)'.")
    evidence_event_ids: list[str]
    as_of: datetime = Field(description="Event time at which the condition held.")
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    currency: str = Field(description="The currency of estimated_arr_uplift (the catalogue's for catalogue products).")
    progressed_at: datetime = Field(description="Its opening (event time) or a person's latest stage move.")
    expires_at: datetime | None = Field(
        description="While open: when it is closed as lost for want of progress (progressed_at + "
                    "ORCHARD_EXPANSION_OPPORTUNITY_TTL_DAYS, event time; stored at the account's next event).")
    closed_by: Literal["person", "contract", "expiry"] | None = Field(
        description="person (a PATCH), contract (won by the contract event that added the product, or more of "
                    "it) or expiry (lost: no progress for the TTL).")
    close_reason: str | None = Field(description="In words, when closed by a contract or by expiry.")


class OpportunityPatch(WorkItemPatch):
    stage: Stage | None = Field(None, description="open -> qualified -> proposed -> won | lost | dismissed.")


class WhitespaceProduct(BaseModel):
    product: str
    name: str
    tier: int
    list_price_per_seat: Money
    fits: bool = Field(description="The account owns every prerequisite.")
    fit: float = Field(description="0..1: prerequisites 0.3, healthy adoption 0.3, promoter 0.2, premium use 0.2.")
    reasons: list[str]
    evidence_event_ids: list[str]
    estimated_arr_uplift: Money


class Whitespace(BaseModel):
    account_id: str
    as_of: datetime | None = Field(description="The account's latest event time: what the fit is judged at.")
    owned_products: list[str]
    seats: int
    active_users: int
    products: list[WhitespaceProduct]


class HeldTrigger(BaseModel):
    kind: str
    product: str
    reason: str = Field(description="The trigger's own reason: what it would sell and why.")
    held_reason: str = Field(description="Why it is held, e.g. 'held: the account is red (health 41, 2026-11-02)'.")
    held_since: datetime = Field(description="Event time it was first held.")
    as_of: datetime = Field(description="Event time it was last judged to hold.")
    evidence_event_ids: list[str]
    estimated_arr_uplift: Money
    confidence: float


class HeldTriggers(BaseModel):
    account_id: str
    grade: Literal["green", "yellow", "red"] | None = Field(description="The latest grade from health.changed.")
    open_alert_ids: list[str] = Field(description="Churn-risk alerts raised and not yet resolved.")
    held: list[HeldTrigger] = Field(
        description="Upsell triggers that would fire but for the account's health; each fires (as an "
                    "opportunity) once the account is not red and has no open alert, if it still holds.")


class PipelineBucket(BaseModel):
    opportunities: int
    arr: Money = Field(description="The estimated ARR uplift of the opportunities here.")
    expected_arr: Money = Field(description="arr x weight, summed.")
    weight: Decimal | None = Field(None, description="The weight applied to every opportunity here (stage or outcome).")

    @classmethod
    def of(cls, bucket: WeightedBucket) -> PipelineBucket:
        return cls(opportunities=bucket.count, arr=bucket.arr, expected_arr=bucket.expected_arr,
                   weight=bucket.weight)


class CurrencyPipeline(BaseModel):
    currency: str
    total: PipelineBucket
    by_stage: dict[str, PipelineBucket] = Field(description="Open opportunities by stage (open, qualified, proposed).")
    by_outcome: dict[str, PipelineBucket] = Field(
        description="With a period: opportunities settled in it (won 1, lost and dismissed 0; an open one past its "
                    "expiry counts as lost).")
    by_period: dict[str, PipelineBucket] = Field(
        description="Open opportunities by the quarter of their expected close (their expires_at).")


class ConsolidatedPipeline(BaseModel):
    currency: str
    arr: Money
    expected_arr: Money


class Pipeline(BaseModel):
    period: str | None = Field(description="The period asked for; null: the whole open pipeline.")
    start: date | None
    end: date | None = Field(description="Exclusive.")
    as_of: datetime = Field(description="What expiry is judged against: now, or the as_of asked for.")
    stage_weights: dict[str, Decimal] = Field(description="ORCHARD_EXPANSION_STAGE_WEIGHTS (defaults 0.1/0.3/0.6).")
    outcome_weights: dict[str, Decimal]
    opportunity_ttl_days: int = Field(description="An open opportunity's expected close is its last progress + this.")
    by_currency: ByCurrency[CurrencyPipeline]
    consolidated: Consolidated[ConsolidatedPipeline]
    consolidation: ConsolidationBasis
    renewal_forecast: PeriodReport = Field(
        description="Where the renewal forecast of the same period is (the renewals service), in the same shape.")
