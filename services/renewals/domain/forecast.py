"""The renewal forecast of a period: the renewals whose end date falls in it, and the ARR expected
to renew, per currency (never summed across currencies) and per risk band.

Expected ARR = ARR x probability, where the probability is that of the renewal's risk band, taken
from the book's own history when it has enough of it: the share of the closed renewals (renewed or
churned, due before the period) that renewed, among those last judged in that band while open,
once the band has at least `min_closed` of them. Otherwise the default:

    low 0.95, medium 0.80, high 0.50, critical 0.25

A renewal already renewed counts 1.0, a churned one 0.0 and a committed one 0.95 (shown in their
own `outcome` rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from shared.periods import CurrencyBuckets, Period, WeightedBucket

CENTS = Decimal("0.01")
RATIO = Decimal("0.0001")
PROBABILITY_BY_RISK: dict[str, Decimal] = {
    "low": Decimal("0.95"), "medium": Decimal("0.80"), "high": Decimal("0.50"), "critical": Decimal("0.25"),
}
PROBABILITY_BY_STAGE: dict[str, Decimal] = {
    "renewed": Decimal("1"), "churned": Decimal("0"), "committed": Decimal("0.95"),
}


@dataclass(frozen=True)
class DueRenewal:
    renewal_id: str
    renewal_date: date
    arr: Decimal
    currency: str
    risk: str
    stage: str


@dataclass
class CurrencyForecast(CurrencyBuckets):
    by_risk: dict[str, WeightedBucket] = field(default_factory=dict)


@dataclass(frozen=True)
class ClosedCount:
    """The book's closed renewals last judged in one band while open."""

    closed: int
    renewed: int


@dataclass(frozen=True)
class BandProbability:
    probability: Decimal
    source: Literal["history", "default"]
    closed: int
    renewed: int
    detail: str


def band_probabilities(history: Mapping[str, ClosedCount], *, min_closed: int) -> dict[str, BandProbability]:
    """Per risk band, the share that renewed in the book's history when the band has `min_closed`
    closed renewals or more, else the default, each saying where it came from."""
    out = {}
    for band, default in PROBABILITY_BY_RISK.items():
        seen = history.get(band, ClosedCount(0, 0))
        if seen.closed >= min_closed and seen.closed > 0:
            share = (Decimal(seen.renewed) / Decimal(seen.closed)).quantize(RATIO)
            out[band] = BandProbability(share, "history", seen.closed, seen.renewed,
                                        f"{seen.renewed} of the book's {seen.closed} closed renewals last judged "
                                        f"{band} renewed")
        else:
            out[band] = BandProbability(default, "default", seen.closed, seen.renewed,
                                        f"default: the book has {seen.closed} closed renewals last judged {band}, "
                                        f"fewer than the {min_closed} its own figure needs")
    return out


def probability(renewal: DueRenewal, by_risk: Mapping[str, Decimal]) -> tuple[str, str, Decimal]:
    """(grouping, key, probability): by stage when the stage settles it, else by risk band."""
    if renewal.stage in PROBABILITY_BY_STAGE:
        return "outcome", renewal.stage, PROBABILITY_BY_STAGE[renewal.stage]
    return "risk", renewal.risk, by_risk[renewal.risk]


def forecast(period: Period, renewals: Iterable[DueRenewal], *,
             by_risk: Mapping[str, Decimal] = PROBABILITY_BY_RISK) -> dict[str, CurrencyForecast]:
    by_currency: dict[str, CurrencyForecast] = {}
    for renewal in renewals:
        if not period.start <= renewal.renewal_date < period.end:
            continue
        result = by_currency.setdefault(renewal.currency, CurrencyForecast(renewal.currency))
        grouping, key, chance = probability(renewal, by_risk)
        buckets = result.by_risk if grouping == "risk" else result.by_outcome
        result.add(buckets, key, renewal.arr, chance)
    return dict(sorted(by_currency.items()))
