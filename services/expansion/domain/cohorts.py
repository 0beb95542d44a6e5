"""Cohorts: how an account's usage compares with similar accounts' (same segment and plan), both its
growth (`standing`) and its level (`level`: how much it uses, feature by feature).

Norms are plain data, versioned as health's are (`shared.norm_versions`): each version is in force
from its `effective_from` (event time), and an event is judged with the version in force at its time
(`NormsHistory.at`), so a replay judges it as the live run did. Per cohort, the sorted growth ratios
of its accounts that have a baseline, and per feature the sorted 30-day volumes of its accounts (0 for
an account of the cohort that did not use the feature: not using it is a fact, as in health's norms).
Who builds them and when is the shell's business (the service's refresh pass,
`services/expansion/norms_store.py`, and the backtest, which rebuilds them at each UTC midnight, both
from every account's state then: `norm_samples`); the rules only read them. An account is compared
with the norms in force, which include it: "faster than 75% of its cohort" means what it says.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from shared.norm_versions import VersionHistory, envelope_from_json, envelope_to_json

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
    version: int = 0
    effective_from: datetime | None = None
    """Events at or after this time (event time) are judged with this version (None: never by time)."""

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
                levels_by_account: Iterable[tuple[str, Mapping[str, float]]] = (), *, version: int = 0,
                effective_from: datetime | None = None) -> CohortNorms:
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
    return CohortNorms({key: tuple(sorted(values)) for key, values in cohorts.items()}, levels, version,
                       effective_from)


NO_NORMS = CohortNorms()


class NormsHistory(VersionHistory[CohortNorms]):
    """The norm versions in force over time, oldest first (`NO_NORMS` before the first)."""

    def __init__(self, versions: Iterable[CohortNorms] = ()) -> None:
        super().__init__(tuple(versions), empty=NO_NORMS)


NO_HISTORY = NormsHistory()


class NormsAt(Protocol):
    """What `decide` reads norms from: the version in force at an event time."""

    def at(self, moment: datetime) -> CohortNorms: ...


def norms_to_json(norms: CohortNorms) -> dict[str, Any]:
    return envelope_to_json(norms.version, norms.effective_from, {
        "growth": {key: list(values) for key, values in norms.growth.items()},
        "levels": {key: {f: list(values) for f, values in features.items()} for key, features in norms.levels.items()},
    })


def norms_from_json(raw: Mapping[str, Any]) -> CohortNorms:
    return envelope_from_json(raw, lambda version, effective_from, body: CohortNorms(
        {key: tuple(float(v) for v in values) for key, values in body["growth"].items()},
        {key: {f: tuple(float(v) for v in values) for f, values in features.items()}
         for key, features in body["levels"].items()},
        version, effective_from))
