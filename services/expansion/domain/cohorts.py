"""Cohorts: how an account's usage compares with similar accounts' (same segment and plan), both its
growth (`standing`) and its level (`level`: how much it uses, feature by feature).

Norms are plain data: per cohort, the sorted growth ratios of its accounts that have a baseline, and
per feature the sorted 30-day volumes of its accounts (0 for an account of the cohort that did not
use the feature: not using it is a fact, as in health's norms). Who builds them and when is the
shell's business (the backtest rebuilds them at each UTC midnight from every account's state at that
moment); the rules only read them. An account is compared with the norms in force, which include it:
"faster than 75% of its cohort" means what it says.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

NO_SEGMENT = "-"


def cohort_key(segment: str | None, owned: Iterable[str]) -> str:
    """`segment/plan`, the plan being the owned products in sorted order: "mid_market/core+analytics"."""
    return f"{segment or NO_SEGMENT}/{'+'.join(sorted(owned)) or NO_SEGMENT}"


@dataclass(frozen=True, slots=True)
class LevelStanding:
    """Where an account's usage level stands in its cohort."""

    share: float
    """The median over the account's features of its percentile among each feature's users (0-1)."""
    accounts: int
    by_feature: tuple[tuple[str, float, float], ...]
    """(feature, the account's 30-day volume, its percentile), highest percentile first."""


@dataclass(frozen=True)
class CohortNorms:
    growth: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    """cohort key -> the growth ratios of its accounts, ascending."""
    levels: Mapping[str, Mapping[str, tuple[float, ...]]] = field(default_factory=dict)
    """cohort key -> feature -> its accounts' volumes in the last 30 whole days, ascending (0 included:
    the share of the cohort using a feature is kept, though `level` reads only its users)."""

    def standing(self, key: str, growth: float) -> tuple[float, int] | None:
        """(share of the cohort growing no faster than `growth`, cohort size); None without norms."""
        values = self.growth.get(key)
        if not values:
            return None
        return bisect.bisect_right(values, growth) / len(values), len(values)

    def level(self, key: str, recent: Mapping[str, float]) -> LevelStanding | None:
        """The account's level among its cohort: per feature the account used, the share of the
        cohort's accounts using that feature whose 30-day volume is below the account's (a tie counts
        half, itself included: the typical user of a feature stands at the middle), then the median
        over those features, so units never mix and no single feature decides. Against the feature's
        users, not the whole cohort: where accounts each use a few of many features (the archetype
        books: no feature used by half of a cohort in a month), zeros would make every account's
        median a tie at the bottom. None without norms for the cohort or usage in the window."""
        features = self.levels.get(key)
        if not features:
            return None
        placed = []
        for feature, values in features.items():
            mine = recent.get(feature, 0.0)
            if mine <= 0:
                continue
            users = values[bisect.bisect_right(values, 0.0):]
            below, not_above = bisect.bisect_left(users, mine), bisect.bisect_right(users, mine)
            placed.append((feature, mine, (below + not_above) / 2 / len(users)))
        if not placed:
            return None
        size = max(len(values) for values in features.values())
        ranked = tuple(sorted(placed, key=lambda p: (-p[2], p[0])))
        return LevelStanding(statistics.median(p[2] for p in placed), size, ranked)


def build_norms(growth_by_account: Iterable[tuple[str, float]],
                levels_by_account: Iterable[tuple[str, Mapping[str, float]]] = ()) -> CohortNorms:
    """Norms from (cohort key, growth ratio) per account with a baseline, and (cohort key, feature ->
    volume in the last 30 whole days) per account with usage. Only features some account of the
    cohort used have a level norm."""
    cohorts: dict[str, list[float]] = {}
    for key, growth in growth_by_account:
        cohorts.setdefault(key, []).append(growth)
    members: dict[str, list[Mapping[str, float]]] = {}
    for key, recent in levels_by_account:
        members.setdefault(key, []).append(recent)
    levels = {}
    for key, rows in members.items():
        used = sorted({f for row in rows for f, v in row.items() if v > 0})
        if used:
            levels[key] = {f: tuple(sorted(row.get(f, 0.0) for row in rows)) for f in used}
    return CohortNorms({key: tuple(sorted(values)) for key, values in cohorts.items()}, levels)


NO_NORMS = CohortNorms()
