"""Request and response models of the renewals API (they are what /docs shows)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PlainSerializer

from shared.fx import ByCurrency, Consolidated, ConsolidationBasis
from shared.money import Money
from shared.periods import PeriodReport, WeightedBucket
from shared.work_items import WorkItemPatch

Stage = Literal["upcoming", "open", "in_progress", "committed", "renewed", "churned"]
StoredStage = Literal["open", "in_progress", "committed", "renewed", "churned"]
RiskBand = Literal["low", "medium", "high", "critical"]
Ratio = Annotated[Decimal, PlainSerializer(lambda r: float(r), return_type=float, when_used="json")]


class RiskReason(BaseModel):
    component: str
    delta: float
    detail: str = Field(description="In words, e.g. 'health is red at 18'.")
    evidence_event_ids: list[str]


class Renewal(BaseModel):
    renewal_id: str = Field(description="Deterministic: uuid5 of the contract and the term's end date.")
    account_id: str
    contract_id: str
    term_start: date
    renewal_date: date = Field(description="The term's end date.")
    window_opens_on: date
    days_to_renewal: int = Field(description="From today; negative once the date has passed.")
    stage: Stage = Field(description="`upcoming` until the window opens, then as people (or contract events) set it.")
    owner: str | None
    notes: str | None
    arr: Money
    currency: str
    seats: int
    products: list[str]
    auto_renew: bool
    segment: str | None
    risk: RiskBand = Field(description="As last judged (at the account's latest event or by the scheduled pass as "
                                       "windows open and dates pass); a closed renewal keeps its last open band.")
    risk_reasons: list[RiskReason] = Field(description="One per factor that set or moved the band; delta is the "
                                                       "bands it moved, negative towards churn.")
    health_score: float | None
    health_grade: str | None
    alert_severity: RiskBand | None = Field(description="The open renewal_at_risk alert's severity, if any.")
    updated_at: datetime


class AccountRenewals(BaseModel):
    account_id: str
    renewals: list[Renewal] = Field(description="The account's renewals not yet renewed or churned, soonest first.")


class RenewalPatch(WorkItemPatch):
    stage: StoredStage | None = Field(
        None, description="open <-> in_progress <-> committed -> renewed; any of them -> churned; final once closed.")


class ForecastBucket(BaseModel):
    renewals: int
    arr: Money
    expected_arr: Money
    probability: Ratio | None = Field(None, description="The probability applied to every renewal here.")

    @classmethod
    def of(cls, bucket: WeightedBucket) -> ForecastBucket:
        return cls(renewals=bucket.count, arr=bucket.arr, expected_arr=bucket.expected_arr,
                   probability=bucket.weight)


class CurrencyForecast(BaseModel):
    currency: str
    total: ForecastBucket
    by_risk: dict[str, ForecastBucket] = Field(description="Pending renewals by risk band.")
    by_outcome: dict[str, ForecastBucket] = Field(description="Renewals whose stage settles it: renewed, "
                                                              "churned, committed.")


class BandProbability(BaseModel):
    probability: Ratio
    source: Literal["history", "default"] = Field(
        description="history: the share of the book's closed renewals last judged in this band that renewed; "
                    "default: too few of them yet.")
    closed: int = Field(description="Closed renewals (renewed or churned) due before the period, last judged in "
                                    "this band while open.")
    renewed: int
    detail: str


class ConsolidatedForecast(BaseModel):
    currency: str
    renewals: int
    arr: Money
    expected_arr: Money


class Forecast(BaseModel):
    period: str
    start: date
    end: date = Field(description="Exclusive.")
    probabilities: dict[str, Ratio] = Field(description="By risk band, and by stage where the stage settles it.")
    band_probabilities: dict[str, BandProbability] = Field(
        description="Where each risk band's probability came from: the book's own history or the default.")
    by_currency: ByCurrency[CurrencyForecast]
    consolidated: Consolidated[ConsolidatedForecast]
    consolidation: ConsolidationBasis
    expansion_pipeline: PeriodReport = Field(
        description="Where the expansion pipeline of the same period is (the expansion service), in the same shape.")




class ConsolidatedRetention(BaseModel):
    currency: str
    starting_arr: Money
    churned_arr: Money
    contraction_arr: Money
    expansion_arr: Money
    ending_arr: Money
    grr: Ratio | None
    nrr: Ratio | None


class CurrencyRetention(ConsolidatedRetention):
    starting_accounts: int


class Retention(BaseModel):
    period: str
    start: date
    end: date = Field(description="Exclusive: the ending ARR is the ARR on this day.")
    starting_accounts: int
    churned_accounts: int
    logo_churn: Ratio | None
    by_currency: ByCurrency[CurrencyRetention]
    consolidated: ConsolidatedRetention | None = Field(
        description="Each currency's figures converted with the exchange-rate table (ORCHARD_FX_RATES) and summed, "
                    "GRR and NRR of the whole book; null without a table or a rate (`consolidation` says why).")
    consolidation: ConsolidationBasis
    definitions: str
