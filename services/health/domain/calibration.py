"""What a book's own history says a score and an alert mean: the chance of churn at each score, and
how often each alert kind was followed by churn or contraction. Fitted by `python -m
services.health.calibrate` (out of fold), carried in a scorecard's optional `calibration` section,
and put on every churn-risk alert as `churn_probability` and `kind_precision`. A scorecard without
it says nothing about probabilities: the fields stay empty rather than made up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any


@dataclass(frozen=True, slots=True)
class ProbabilityBand:
    min_score: float
    """The band holds scores from here up to the next band's `min_score`."""
    probability: float
    """Share of the snapshots in this band that churned (or contracted) within the outcome window."""


@dataclass(frozen=True, slots=True)
class Calibration:
    churn_probability: tuple[ProbabilityBand, ...] = ()
    """Ascending by `min_score`, the first at 0; probabilities that do not rise with the score."""
    kind_precision: Mapping[str, float] = field(default_factory=dict)
    source: str = ""
    """Where the figures came from (book, accounts, snapshots, when), shown to whoever reads them."""

    def probability_at(self, score: float) -> float | None:
        found = None
        for band in self.churn_probability:
            if score >= band.min_score:
                found = band.probability
        return found

    def precision_of(self, kind: str) -> float | None:
        return self.kind_precision.get(kind)


def calibration_to_json(calibration: Calibration) -> dict[str, Any]:
    return {
        "churn_probability": [{"min_score": b.min_score, "probability": b.probability}
                              for b in calibration.churn_probability],
        "kind_precision": dict(sorted(calibration.kind_precision.items())),
        "source": calibration.source,
    }


def parse_calibration(raw: Any, *, alert_kinds: Sequence[str]) -> tuple[Calibration | None, list[str]]:
    """A Calibration from untrusted JSON and every problem found (the caller reports them with the
    scorecard's own)."""
    if raw is None:
        return None, []
    if not isinstance(raw, Mapping):
        return None, ["calibration: must be an object"]
    problems = [f"calibration.{k}: unknown field; expected churn_probability, kind_precision, source"
                for k in sorted(set(raw) - {"churn_probability", "kind_precision", "source"})]
    bands = _bands(raw.get("churn_probability", []), problems)
    precision: dict[str, float] = {}
    kinds = raw.get("kind_precision", {})
    if not isinstance(kinds, Mapping):
        problems.append("calibration.kind_precision: must be an object of alert kind -> 0..1")
    else:
        for kind, value in kinds.items():
            if kind not in alert_kinds:
                problems.append(f"calibration.kind_precision.{kind}: unknown alert kind")
            elif not _unit(value):
                problems.append(f"calibration.kind_precision.{kind}: must be a number from 0 to 1, got {value!r}")
            else:
                precision[kind] = float(value)
    source = raw.get("source", "")
    if not isinstance(source, str) or len(source) > 500:
        problems.append("calibration.source: must be a string of at most 500 characters")
    if problems:
        return None, problems
    return Calibration(tuple(bands), precision, str(source)), []


def _bands(raw: Any, problems: list[str]) -> list[ProbabilityBand]:
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        problems.append("calibration.churn_probability: must be a list of {min_score, probability}")
        return []
    bands = []
    for n, item in enumerate(raw):
        where = f"calibration.churn_probability[{n}]"
        if not isinstance(item, Mapping) or set(item) != {"min_score", "probability"}:
            problems.append(f"{where}: must be {{min_score, probability}}")
            continue
        low, p = item["min_score"], item["probability"]
        if not isinstance(low, int | float) or isinstance(low, bool) or not 0 <= low <= 100:
            problems.append(f"{where}.min_score: must be a number from 0 to 100, got {low!r}")
        elif not _unit(p):
            problems.append(f"{where}.probability: must be a number from 0 to 1, got {p!r}")
        else:
            bands.append(ProbabilityBand(float(low), float(p)))
    if bands and bands[0].min_score != 0:
        problems.append("calibration.churn_probability: the first band must start at min_score 0")
    if any(b.min_score <= a.min_score for a, b in pairwise(bands)):
        problems.append("calibration.churn_probability: min_score must rise from band to band")
    return bands


def _unit(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


def fit_probability_bands(points: Sequence[tuple[float, bool]], *,
                          min_per_band: int = 30) -> tuple[ProbabilityBand, ...]:
    """Churn probability by score band from (score, churned) pairs: pool adjacent violators so the
    probability never rises with the score (isotonic regression), then merge bands until each holds
    at least `min_per_band` snapshots, so no band's figure rests on a handful of accounts."""
    if not points:
        return ()
    # blocks of [min score, churned, total], ascending by score; ties in score share a block
    blocks: list[list[float]] = []
    for score, churned in sorted(points):
        if blocks and blocks[-1][0] == score:
            blocks[-1][1] += churned
            blocks[-1][2] += 1
        else:
            blocks.append([score, float(churned), 1.0])
    merged: list[list[float]] = []
    for block in blocks:
        merged.append(list(block))
        # a higher score must not carry a higher churn rate than the band below it
        while len(merged) > 1 and merged[-1][1] / merged[-1][2] >= merged[-2][1] / merged[-2][2]:
            top = merged.pop()
            merged[-1][1] += top[1]
            merged[-1][2] += top[2]
    sized: list[list[float]] = []
    for block in merged:
        if sized and sized[-1][2] < min_per_band:
            sized[-1][1] += block[1]
            sized[-1][2] += block[2]
        else:
            sized.append(list(block))
    if len(sized) > 1 and sized[-1][2] < min_per_band:
        top = sized.pop()
        sized[-1][1] += top[1]
        sized[-1][2] += top[2]
    return tuple(ProbabilityBand(0.0 if n == 0 else round(low, 2), round(churned / total, 3))
                 for n, (low, churned, total) in enumerate(sized))
