"""Ranking and rate figures for a backtest: AUC with ties, ROC points, rates and lift per category,
and histograms. Pure functions of plain lists.

Scores are "risk": higher means the outcome is more expected. A health score (high = healthy) is
turned into risk by the caller (100 - score), so every figure here reads the same way.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks of `values` in ascending order, tied values sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        shared = (start + end) / 2 + 1
        for k in range(start, end + 1):
            ranks[order[k]] = shared
        start = end + 1
    return ranks


def auc(risks: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve: the probability that a random positive has a higher risk than a
    random negative, ties counting one half (Mann-Whitney U). None when either class is empty."""
    if len(risks) != len(labels):
        raise ValueError(f"{len(risks)} risks for {len(labels)} labels")
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = average_ranks(risks)
    rank_sum = sum(r for r, label in zip(ranks, labels, strict=True) if label)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def auc_intervals(series: Mapping[str, Sequence[float]], labels: Sequence[bool], groups: Sequence[str], *,
                  differences: Sequence[tuple[str, str]] = (), rounds: int = 200, level: float = 0.9,
                  seed: int = 0) -> dict[str, list[float] | None]:
    """Bootstrap intervals of each series' AUC and of AUC differences (`a - b` for each pair), drawing
    whole groups (accounts) with replacement: an account's snapshots move together, so resampling
    snapshots one by one would make the intervals too narrow. None when too few resamples have both
    classes."""
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    keys = sorted(by_group)
    rng = random.Random(seed)
    draws: dict[str, list[float]] = {name: [] for name in [*series, *(f"{a}_minus_{b}" for a, b in differences)]}
    for _ in range(rounds if keys else 0):
        rows = [i for g in rng.choices(keys, k=len(keys)) for i in by_group[g]]
        sample_labels = [labels[i] for i in rows]
        aucs = {name: auc([s[i] for i in rows], sample_labels) for name, s in series.items()}
        for name, value in aucs.items():
            if value is not None:
                draws[name].append(value)
        for a, b in differences:
            va, vb = aucs[a], aucs[b]
            if va is not None and vb is not None:
                draws[f"{a}_minus_{b}"].append(va - vb)
    tail = (1 - level) / 2
    out: dict[str, list[float] | None] = {}
    for name, values in draws.items():
        if len(values) < rounds // 2:
            out[name] = None
            continue
        values.sort()
        lo, hi = values[int(tail * (len(values) - 1))], values[int((1 - tail) * (len(values) - 1))]
        out[name] = [round(lo, 4), round(hi, 4)]
    return out


def roc_points(risks: Sequence[float], labels: Sequence[bool], *, most: int = 200) -> list[tuple[float, float]]:
    """(false positive rate, true positive rate) from the strictest threshold to the loosest, one
    point per distinct risk (tied risks move both rates at once: a diagonal step), thinned to at most
    `most` points keeping both ends. Empty when either class is empty."""
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return []
    by_risk: dict[float, list[int]] = {}
    for risk, label in zip(risks, labels, strict=True):
        counts = by_risk.setdefault(risk, [0, 0])
        counts[0 if label else 1] += 1
    points = [(0.0, 0.0)]
    tp = fp = 0
    for risk in sorted(by_risk, reverse=True):
        tp += by_risk[risk][0]
        fp += by_risk[risk][1]
        points.append((fp / negatives, tp / positives))
    if len(points) <= most:
        return points
    step = (len(points) - 1) / (most - 1)
    return [points[round(i * step)] for i in range(most)]


@dataclass(frozen=True, slots=True)
class Rate:
    n: int
    positives: int

    @property
    def rate(self) -> float | None:
        return self.positives / self.n if self.n else None


def rates_by(categories: Iterable[tuple[str, bool]]) -> dict[str, Rate]:
    """Count and positives per category, categories in sorted order."""
    counts: dict[str, list[int]] = {}
    for category, label in categories:
        c = counts.setdefault(category, [0, 0])
        c[0] += 1
        c[1] += label
    return {category: Rate(n, pos) for category, (n, pos) in sorted(counts.items())}


def rate_table(rates: Mapping[str, Rate], *, overall: Rate, positives: str = "churned") -> dict[str, dict[str, Any]]:
    """JSON rows: n, positives (under the name `positives`), rate and lift (rate against the overall
    rate) per category."""
    base = overall.rate
    return {
        category: {
            "n": r.n, positives: r.positives, "rate": rounded(r.rate),
            "lift": rounded(r.rate / base) if r.rate is not None and base else None,
        }
        for category, r in rates.items()
    }


def histogram(values: Iterable[float], *, width: float, start: float = 0.0) -> list[dict[str, float | int]]:
    """Counts in bins [start + k*width, start + (k+1)*width), empty bins between kept."""
    counts: dict[int, int] = {}
    for value in values:
        k = int((value - start) // width)
        counts[k] = counts.get(k, 0) + 1
    if not counts:
        return []
    return [{"from": start + k * width, "to": start + (k + 1) * width, "count": counts.get(k, 0)}
            for k in range(min(counts), max(counts) + 1)]


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def rounded(value: float | None, places: int = 4) -> float | None:
    """Figures go to JSON rounded: the fourth decimal of an AUC is already noise."""
    return None if value is None else round(value, places)
