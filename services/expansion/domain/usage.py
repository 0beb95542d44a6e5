"""Usage volume: the `quantity` of `usage.recorded` per feature and UTC day, and what it says about
growth. Needs no user ids and no seats, so it works on aggregated daily counts, metered quantities
and server-side events as well as on per-user events.

Units never mix: every feature is judged against its own past (a feature in bytes and one in API
calls each give a ratio; the account's growth is the median of its features' ratios).

Windows are made of whole UTC days *before* `as_of`'s day, so a judgement does not change while a
day's events are still arriving, and a consumer batch that ends mid-day decides nothing different
from one that does not.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass

VOLUME_DAYS = 90
"""Days of per-feature volume kept: the last 30 days and the 60 days of baseline before them."""
WINDOW_DAYS = 30
BASELINE_WINDOWS = 2
"""The baseline is the mean 30-day volume of the two 30-day windows before the recent one."""

Volumes = Mapping[str, Mapping[int, float]]
"""feature -> {UTC day ordinal -> summed quantity}"""


def add_volume(volumes: dict[str, dict[int, float]], feature: str, day: int, quantity: float) -> None:
    days = volumes.setdefault(feature, {})
    days[day] = days.get(day, 0.0) + quantity


def pruned(volumes: Volumes, *, latest_day: int) -> dict[str, dict[int, float]]:
    """Only the days the windows can still read; features with nothing left are dropped."""
    horizon = latest_day - VOLUME_DAYS
    out = {f: {d: q for d, q in days.items() if d > horizon} for f, days in volumes.items()}
    return {f: days for f, days in out.items() if days}


def window_total(days: Mapping[int, float], *, as_of_day: int, windows_back: int = 0) -> tuple[float, int]:
    """(summed quantity, active days) of one 30-day window of whole days before `as_of_day`:
    windows_back=0 is the 30 days just before it, 1 the 30 before those, and so on."""
    last = as_of_day - 1 - windows_back * WINDOW_DAYS
    total, active = 0.0, 0
    for day in range(last - WINDOW_DAYS + 1, last + 1):
        quantity = days.get(day)
        if quantity is not None:
            total += quantity
            active += quantity > 0
    return total, active


@dataclass(frozen=True, slots=True)
class FeatureGrowth:
    feature: str
    recent: float
    """Quantity in the last 30 whole days."""
    baseline: float
    """Mean quantity per 30 days over the 60 days before."""
    ratio: float

    def describe(self) -> str:
        return f"{self.feature} {_amount(self.recent)} in the last 30 days against {_amount(self.baseline)} before"


def feature_growth(volumes: Volumes, *, as_of_day: int, min_baseline_days: int) -> list[FeatureGrowth]:
    """Per feature with an established baseline (used on at least `min_baseline_days` of the 60
    baseline days, and on some day of the last 30 or of the baseline), its recent/baseline ratio.
    A feature with no baseline is new, not growing: it says nothing here."""
    out = []
    for feature in sorted(volumes):
        days = volumes[feature]
        recent, _ = window_total(days, as_of_day=as_of_day)
        totals = [window_total(days, as_of_day=as_of_day, windows_back=k) for k in range(1, BASELINE_WINDOWS + 1)]
        baseline = sum(t for t, _ in totals) / BASELINE_WINDOWS
        if sum(a for _, a in totals) < min_baseline_days or baseline <= 0:
            continue
        out.append(FeatureGrowth(feature, recent, baseline, recent / baseline))
    return out


def account_growth(growths: list[FeatureGrowth]) -> float | None:
    """The median of the features' ratios, taken on a log scale (a feature that halves and one that
    doubles balance out); None when no feature has a baseline."""
    if not growths:
        return None
    return math.exp(statistics.median(math.log(max(g.ratio, 1e-6)) for g in growths))


def _amount(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.4g}"
