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


def add_volume(volumes: dict[str, Mapping[int, float]], feature: str, day: int, quantity: float) -> None:
    """Add to one feature's day. Copy on write: only the feature touched gets a new mapping, so a
    fold per event does not copy every feature's history."""
    days = dict(volumes.get(feature, {}))
    days[day] = days.get(day, 0.0) + quantity
    volumes[feature] = days


def pruned(volumes: Volumes, *, latest_day: int) -> dict[str, Mapping[int, float]]:
    """Only the days the windows can still read (the 90 whole days before the latest day); features
    with nothing left are dropped."""
    oldest = latest_day - VOLUME_DAYS
    out: dict[str, Mapping[int, float]] = {}
    for feature, days in volumes.items():
        if min(days) >= oldest:
            out[feature] = days
        elif kept := {d: q for d, q in days.items() if d >= oldest}:
            out[feature] = kept
    return out


def window_totals(days: Mapping[int, float], *, as_of_day: int) -> list[tuple[float, int]]:
    """(summed quantity, active days) of the 30-day windows of whole days before `as_of_day`, the
    most recent first: [the 30 days just before it, the 30 before those, the 30 before those]."""
    totals = [[0.0, 0] for _ in range(1 + BASELINE_WINDOWS)]
    for day, quantity in days.items():
        back = (as_of_day - 1 - day) // WINDOW_DAYS
        if 0 <= back <= BASELINE_WINDOWS and day < as_of_day:
            totals[back][0] += quantity
            totals[back][1] += quantity > 0
    return [(total, int(active)) for total, active in totals]


def window_total(days: Mapping[int, float], *, as_of_day: int) -> float:
    """Quantity in the 30 whole days before `as_of_day`."""
    return window_totals(days, as_of_day=as_of_day)[0][0]


@dataclass(frozen=True, slots=True)
class FeatureGrowth:
    feature: str
    recent: float
    """Quantity in the last 30 whole days."""
    baseline: float
    """Quantity per 30 days over the (up to) 60 days before."""
    ratio: float

    def describe(self) -> str:
        return f"{self.feature} {_amount(self.recent)} in the last 30 days against {_amount(self.baseline)} before"


def feature_growth(volumes: Volumes, *, as_of_day: int, min_baseline_days: int) -> list[FeatureGrowth]:
    """Per feature with an established baseline, its recent/baseline ratio. The baseline is the
    feature's volume per day over the baseline days since it was first seen, times 30: a young account
    (or feature) is judged on the days it had, not on days before it existed read as zeros. A feature
    used on fewer than `min_baseline_days` baseline days has no baseline: new, not growing."""
    out = []
    baseline_first = as_of_day - (1 + BASELINE_WINDOWS) * WINDOW_DAYS
    baseline_last = as_of_day - WINDOW_DAYS - 1
    for feature in sorted(volumes):
        days = volumes[feature]
        (recent, _), *totals = window_totals(days, as_of_day=as_of_day)
        covered = baseline_last - max(min(days), baseline_first) + 1
        if covered <= 0 or sum(a for _, a in totals) < min_baseline_days:
            continue
        baseline = sum(t for t, _ in totals) / covered * WINDOW_DAYS
        if baseline > 0:
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
