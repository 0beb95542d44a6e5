"""Cohorts: how an account's usage growth compares with similar accounts' (same segment and plan).

Norms are plain data: per cohort, the sorted growth ratios of its accounts that have a baseline.
Who builds them and when is the shell's business (the backtest rebuilds them at each UTC midnight
from every account's state at that moment); the rules only read them. An account is compared with
the norms in force, which include it: "faster than 75% of its cohort" means what it says.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

NO_SEGMENT = "-"


def cohort_key(segment: str | None, owned: Iterable[str]) -> str:
    """`segment/plan`, the plan being the owned products in sorted order: "mid_market/core+analytics"."""
    return f"{segment or NO_SEGMENT}/{'+'.join(sorted(owned)) or NO_SEGMENT}"


@dataclass(frozen=True)
class CohortNorms:
    growth: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    """cohort key -> the growth ratios of its accounts, ascending."""

    def standing(self, key: str, growth: float) -> tuple[float, int] | None:
        """(share of the cohort growing no faster than `growth`, cohort size); None without norms."""
        values = self.growth.get(key)
        if not values:
            return None
        return bisect.bisect_right(values, growth) / len(values), len(values)


def build_norms(growth_by_account: Iterable[tuple[str, float]]) -> CohortNorms:
    """Norms from (cohort key, growth ratio) per account."""
    cohorts: dict[str, list[float]] = {}
    for key, growth in growth_by_account:
        cohorts.setdefault(key, []).append(growth)
    return CohortNorms({key: tuple(sorted(values)) for key, values in cohorts.items()})


NO_NORMS = CohortNorms()
