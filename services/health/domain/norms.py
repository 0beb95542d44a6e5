"""Cohort norms: where an account's usage stands among accounts like it.

A steadily quiet account is not healthy just because it is steady: its level has to be compared with
similar accounts' (DOMAIN.md). The service keeps, per cohort (the account's segment, else `all`), the
distribution of each usage measure over the accounts it scores, as a handful of quantiles, refreshed
on a schedule from every account's latest measures (`build_norms`). An account's measure is then
read as a percentile of its cohort (`CohortNorms.percentile`).

Measures are per feature (`qty_30:<feature>`), so units never mix: API calls are compared with API
calls, seats with seats. Young accounts are compared with what established accounts did in their
own first 30 days (`onboarding_30:<feature>`).

Norms are configuration, like scorecards: a version is built from the accounts' measures at one
time and stays fixed until the next refresh, so every evaluation is a function of the events and of
the configuration in force.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.norm_versions import VersionHistory, effective_from_after, envelope_from_json, envelope_to_json

ALL = "all"
"""The cohort of every account: used when the account's own cohort is too small to compare with."""

MIN_COHORT = 20
"""Fewer accounts than this with a measure: no norm for it (a percentile of 5 accounts is noise)."""

QUANTILES = tuple(q / 20 for q in range(21))
"""0%, 5%, ..., 100%: enough to place an account within a few points, small enough to store."""


@dataclass(frozen=True, slots=True)
class Norm:
    quantiles: tuple[float, ...]
    """The measure's values at QUANTILES (nondecreasing)."""
    accounts: int
    """How many accounts had the measure (including zeros where zero is meaningful)."""
    users: int = 0
    """For a per-feature measure: how many accounts used the feature at all."""

    def percentile(self, value: float) -> float:
        """Share of the cohort at or below `value`, 0-1, interpolated between quantiles; ties with a
        run of equal quantiles take the middle of the run (an account at the cohort's typical value
        is typical, not the best)."""
        q = self.quantiles
        if value < q[0]:
            return 0.0
        if value > q[-1]:
            return 1.0
        low, high = bisect.bisect_left(q, value), bisect.bisect_right(q, value)
        if high > low:  # equal to one or more quantiles
            return (QUANTILES[low] + QUANTILES[high - 1]) / 2
        below, above = q[low - 1], q[low]
        share = (value - below) / (above - below)
        return QUANTILES[low - 1] + share * (QUANTILES[low] - QUANTILES[low - 1])


@dataclass(frozen=True, slots=True)
class CohortNorms:
    version: int
    cohorts: Mapping[str, Mapping[str, Norm]] = field(default_factory=dict)
    """cohort -> measure -> norm."""
    effective_from: datetime | None = None
    """Points at or after this time (event time) are scored with this version; it is when the version
    was built, so a replay scores each point with the version a live run had then."""
    _features: dict[tuple[str | None, str], tuple[str, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    """`features` as answered so far: the norms never change, and every evaluation point asks."""

    def norm(self, cohort: str | None, measure: str) -> Norm | None:
        """The cohort's norm for the measure, else the norm over all accounts, else None."""
        own = self.cohorts.get(cohort or ALL, {}).get(measure)
        return own if own is not None else self.cohorts.get(ALL, {}).get(measure)

    def features(self, cohort: str | None, prefix: str = "qty_30:") -> list[str]:
        """The features the cohort's accounts use, each of which places an account's level. Every one
        counts, rare ones too: not using what similar accounts use is a finding (on the books tried,
        keeping only common features made the level rank churn worse)."""
        known = self._features.get((cohort, prefix))
        if known is None:
            measures = self.cohorts.get(cohort or ALL) or self.cohorts.get(ALL, {})
            known = tuple(sorted(name[len(prefix):] for name, n in measures.items()
                                 if name.startswith(prefix) and n.users))
            self._features[(cohort, prefix)] = known
        return list(known)


EMPTY_NORMS = CohortNorms(version=0)

FAMILIES = {"qty_30:": "active_days_30", "onboarding_30:": "onboarded"}
"""Per-feature measure families and the measure that says an account belongs to the family."""


class NormsHistory(VersionHistory[CohortNorms]):
    """The norm versions in force over time, oldest first (`EMPTY_NORMS` before the first)."""

    def __init__(self, versions: Sequence[CohortNorms] = ()) -> None:
        super().__init__(versions, empty=EMPTY_NORMS)


NO_NORMS = NormsHistory()

norms_effective_from = effective_from_after
"""When norms built now take effect (`shared.norm_versions.effective_from_after`)."""


def _quantiles(values: list[float]) -> tuple[float, ...]:
    ordered = sorted(values)
    last = len(ordered) - 1
    out = []
    for q in QUANTILES:
        position = q * last
        low = int(position)
        high = min(low + 1, last)
        out.append(ordered[low] + (ordered[high] - ordered[low]) * (position - low))
    return tuple(round(v, 6) for v in out)


def build_norms(samples: Iterable[tuple[str | None, Mapping[str, float]]], *, version: int,
                effective_from: datetime | None = None) -> CohortNorms:
    """Norms from (cohort, measures) per account. A per-feature measure an account lacks counts as 0
    for every account that has usage measures at all (not using a feature is a fact, not a gap)."""
    by_cohort: dict[str, list[Mapping[str, float]]] = {}
    for cohort, measures in samples:
        if not measures:
            continue
        by_cohort.setdefault(cohort or ALL, []).append(measures)
        if cohort and cohort != ALL:
            by_cohort.setdefault(ALL, []).append(measures)
    cohorts: dict[str, dict[str, Norm]] = {}
    for cohort, rows in by_cohort.items():
        names = {name for row in rows for name in row} - {"onboarded"}
        norms: dict[str, Norm] = {}
        for name in sorted(names):
            family = name.split(":", 1)[0] + ":" if ":" in name else None
            marker = FAMILIES.get(family) if family else None
            # a per-feature measure an account lacks is 0 for every account of its family (it used the
            # product, just not this feature); other measures count only where present
            eligible = [row for row in rows if (marker in row if marker else name in row)]
            values = [float(row.get(name, 0.0)) for row in eligible]
            if len(values) < MIN_COHORT:
                continue
            users = sum(1 for v in values if v > 0) if family else len(values)
            norms[name] = Norm(_quantiles(values), len(values), users)
        if norms:
            cohorts[cohort] = norms
    return CohortNorms(version=version, cohorts=cohorts, effective_from=effective_from)


def norms_to_json(norms: CohortNorms) -> dict[str, Any]:
    return envelope_to_json(norms.version, norms.effective_from, {
        "cohorts": {cohort: {name: {"q": list(n.quantiles), "accounts": n.accounts, "users": n.users}
                             for name, n in measures.items()}
                    for cohort, measures in norms.cohorts.items()},
    })


def norms_from_json(raw: Mapping[str, Any]) -> CohortNorms:
    return envelope_from_json(raw, lambda version, effective_from, body: CohortNorms(
        version=version, effective_from=effective_from,
        cohorts={cohort: {name: Norm(tuple(float(v) for v in n["q"]), int(n["accounts"]), int(n["users"]))
                          for name, n in measures.items()}
                 for cohort, measures in body["cohorts"].items()},
    ))
