"""The weighted expansion pipeline and its forecast, per currency (never summed across currencies:
a consolidated total comes from `shared.fx` beside these), by stage and by period. The renewal
forecast (renewals' `GET /v1/forecast`) has the same shape: buckets of count, ARR, expected ARR and
the weight applied, pending ones by stage (there: by risk band) and settled ones by outcome.

- An open opportunity counts its estimated ARR uplift x its stage's weight (defaults below,
  `ORCHARD_EXPANSION_STAGE_WEIGHTS`). Its expected close is the day it would expire
  (`expires_at`: its last progress + the TTL): by then it is won, lost, or closed by expiry.
- One whose `expires_at` has passed by the time judged at is lost (stored so at the account's next
  event): it counts as a `lost` outcome at its expiry, never as pipeline.
- Settled ones count by outcome on the day they closed: won 1, lost and dismissed 0.

Without a period: every open opportunity, by stage and by the quarter of its expected close. With
one: the open ones expected to close in it, and the outcomes that fell in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Final

from services.expansion.domain.closing import expires_at
from services.expansion.domain.opportunities import OPEN_STAGES
from shared.periods import CurrencyBuckets, Period, WeightedBucket, quarter_of, utc_day

DEFAULT_STAGE_WEIGHTS: Final[Mapping[str, Decimal]] = {
    "open": Decimal("0.10"), "qualified": Decimal("0.30"), "proposed": Decimal("0.60"),
}
OUTCOME_WEIGHTS: Final[Mapping[str, Decimal]] = {"won": Decimal(1), "lost": Decimal(0), "dismissed": Decimal(0)}


def stage_weights(overrides: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The defaults with `overrides` applied; ValueError for a stage that is not open or a weight
    outside 0..1."""
    for stage, weight in overrides.items():
        if stage not in OPEN_STAGES:
            raise ValueError(f"stage weights are for the open stages {sorted(OPEN_STAGES)}, not {stage!r}")
        if not Decimal(0) <= weight <= Decimal(1):
            raise ValueError(f"the weight of {stage} must be between 0 and 1, got {weight}")
    return {**DEFAULT_STAGE_WEIGHTS, **overrides}


@dataclass(frozen=True)
class PipelineEntry:
    """What the pipeline reads of one stored opportunity."""

    stage: str
    currency: str
    estimated_arr_uplift: Decimal
    progressed_at: datetime
    closed_at: datetime | None


@dataclass
class CurrencyPipeline(CurrencyBuckets):
    by_stage: dict[str, WeightedBucket] = field(default_factory=dict)
    by_period: dict[str, WeightedBucket] = field(default_factory=dict)
    """Open ones by the quarter of their expected close (`2027-Q1`)."""


def pipeline(entries: Iterable[PipelineEntry], *, weights: Mapping[str, Decimal], ttl_days: int, as_of: datetime,
             period: Period | None = None) -> dict[str, CurrencyPipeline]:
    """Per currency (sorted), the pipeline judged at `as_of`, within `period` when given."""
    by_currency: dict[str, CurrencyPipeline] = {}
    for entry in entries:
        expiry = expires_at(entry.progressed_at, ttl_days)
        if entry.stage in OPEN_STAGES and expiry is not None and expiry > as_of:
            if period is not None and not period.start <= utc_day(expiry) < period.end:
                continue
            weight, uplift = weights[entry.stage], entry.estimated_arr_uplift
            result = by_currency.setdefault(entry.currency, CurrencyPipeline(entry.currency))
            result.add(result.by_stage, entry.stage, uplift, weight)
            # A quarter's open ones carry different stages' weights: its bucket has none of its own.
            result.by_period.setdefault(quarter_of(utc_day(expiry)).label, WeightedBucket()).add(uplift, weight)
            continue
        outcome, closed_at = (entry.stage, entry.closed_at) if entry.stage not in OPEN_STAGES else ("lost", expiry)
        if period is None or closed_at is None or not period.start <= utc_day(closed_at) < period.end:
            continue
        weight = OUTCOME_WEIGHTS[outcome]
        result = by_currency.setdefault(entry.currency, CurrencyPipeline(entry.currency))
        result.add(result.by_outcome, outcome, entry.estimated_arr_uplift, weight)
    for result in by_currency.values():
        result.by_period = dict(sorted(result.by_period.items()))
    return dict(sorted(by_currency.items()))
