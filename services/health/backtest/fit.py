"""Calibration, pure: a book's scored snapshots in, a proposed scorecard per segment out, judged out of
fold (every account scored by a fit that never saw it) beside the current cards on the same snapshots.

What is fitted, per segment: the component weights (a logistic regression of churn on the component
scores, weights in proportion to how much each lowers the risk, components seen too rarely keeping
their current share), the grade bands (red for the riskiest share of snapshots, green for the safest
half) and the churn probability by score band (isotonic, at least 30 snapshots a band). The alert
kinds' precision comes from the same replay's alerts. Alert rules are fitted beside this, from the
alerts each rule variant raised in the same replay (`alert_fit.py`: kinds switched off, sustain days);
the budget is never loosened, since it bounds how often anyone is interrupted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from services.health.backtest.replay import COMPONENTS, Scorecard
from services.health.domain import GradeThresholds
from services.health.domain.calibration import Calibration, fit_probability_bands
from shared.backtest.baseline import fit_logistic, grouped_folds
from shared.backtest.metrics import auc, rounded
from shared.backtest.ranking import ScoredSnapshot

MIN_COVERAGE = 0.2
"""A component present in fewer of a segment's snapshots than this keeps its current weight share."""
RED_SHARE = 0.15
GREEN_SHARE = 0.5
BAND_HYSTERESIS = 4.0
"""Points between entering and leaving a band, as the built-in cards have, so noise does not flap it."""
MIN_PRECISION_JUDGED = 10
"""Judgeable alerts of a kind before its precision goes on a card (and on every alert of that kind):
a precision of 0 from one alert is not a measure."""
MIN_SNAPSHOTS = 60
"""A segment with fewer judged snapshots (or no churn among them) keeps its current card."""


@dataclass(frozen=True)
class Fitted:
    weights: dict[str, float]
    thresholds: GradeThresholds


def component_scores(row: ScoredSnapshot) -> dict[str, float]:
    """The row's component scores (0-100, high = healthy), the ones with data."""
    return {c: 100.0 - risk for c in COMPONENTS if (risk := row.component_risks.get(c)) is not None}


def weighted_total(scores: Mapping[str, float], weights: Mapping[str, float]) -> float | None:
    """The weighted mean of the components with data (the service's `exclude` policy, without the caps
    of critical measures, which a refit leaves as they are)."""
    present = {c: w for c, w in weights.items() if c in scores and w > 0}
    total = sum(present.values())
    return None if total == 0 else sum(scores[c] * w for c, w in present.items()) / total


def fit_weights(rows: Sequence[ScoredSnapshot], current: Mapping[str, float]) -> dict[str, float]:
    scored = [component_scores(r) for r in rows]
    covered = [c for c in COMPONENTS if sum(c in s for s in scored) >= MIN_COVERAGE * len(rows)]
    labels = np.asarray([r.snapshot.churned for r in rows], dtype=np.float64)
    if not covered or labels.min() == labels.max():
        return dict(current)
    means = {c: float(np.mean([s[c] for s in scored if c in s])) for c in covered}
    x = np.asarray([[s.get(c, means[c]) for c in covered] for s in scored], dtype=np.float64)
    model = fit_logistic(x, labels)
    # A standardised coefficient below zero: the healthier the component, the less churn. Back on the
    # 0-100 scale, a weight in proportion to it.
    lowers = {c: max(0.0, -float(w) / float(s))
              for c, w, s in zip(covered, model.weights[1:], model.scale, strict=True)}
    fitted_total = sum(lowers.values())
    kept = {c: current.get(c, 0.0) for c in COMPONENTS if c not in covered}
    if fitted_total == 0:
        return dict(current)
    # The fitted components share what they had between them; the others keep theirs.
    share = sum(current.get(c, 0.0) for c in covered) or 100.0
    weights = {c: share * lowers[c] / fitted_total for c in covered}
    out = {**kept, **weights}
    scale = 100.0 / sum(out.values())
    return {c: round(out.get(c, 0.0) * scale, 1) for c in COMPONENTS}


def fit_thresholds(totals: Sequence[float]) -> GradeThresholds:
    ordered = sorted(totals)
    red = ordered[int(RED_SHARE * (len(ordered) - 1))]
    green = ordered[int(GREEN_SHARE * (len(ordered) - 1))]
    green = max(green, red + 2 * BAND_HYSTERESIS)
    return GradeThresholds(green_enter=round(green, 1), green_exit=round(green - BAND_HYSTERESIS, 1),
                           red_enter=round(red, 1), red_exit=round(red + BAND_HYSTERESIS, 1))


def fit_segment(rows: Sequence[ScoredSnapshot], card: Scorecard) -> Fitted:
    weights = fit_weights(rows, card.weights)
    totals = [t for r in rows if (t := weighted_total(component_scores(r), weights)) is not None]
    return Fitted(weights, fit_thresholds(totals) if totals else card.thresholds)


def _grade(total: float, thresholds: GradeThresholds) -> str:
    return "red" if total < thresholds.red_enter else "green" if total >= thresholds.green_enter else "yellow"


def calibrate(rows: Sequence[ScoredSnapshot], cards: Mapping[str, Scorecard], *, alerts: Mapping[str, Any],
              folds: int = 5, seed: int = 0, source: str = "") -> dict[str, Any]:
    """Per segment with enough snapshots: the proposed card (fitted on all its rows) and the figures of
    the current and proposed cards on the same snapshots, the proposed ones out of fold."""
    precision = {kind: p["precision"] for kind, p in alerts.get("precision_by_kind", {}).items()
                 if p.get("precision") is not None and p.get("judgeable", 0) >= MIN_PRECISION_JUDGED}
    segments: dict[str, Any] = {}
    proposed: dict[str, Scorecard] = {}
    def card_segment(row: ScoredSnapshot) -> str:  # an account of a segment without a card of its own: default
        return row.snapshot.segment if row.snapshot.segment in cards else "default"

    for segment in sorted({card_segment(r) for r in rows}):
        mine = [r for r in rows if card_segment(r) == segment]
        card = cards[segment]
        churned = sum(r.snapshot.churned for r in mine)
        if len(mine) < MIN_SNAPSHOTS or churned == 0:
            segments[segment] = {"snapshots": len(mine), "churned": churned,
                                 "kept": f"fewer than {MIN_SNAPSHOTS} snapshots or no churn: the current card stays"}
            continue
        out_of_fold: list[tuple[float, str] | None] = [None] * len(mine)
        for train, test in grouped_folds([r.snapshot.account_id for r in mine], folds=folds, seed=seed):
            if not test or not train:
                continue
            fitted = fit_segment([mine[i] for i in train], card)
            for i in test:
                total = weighted_total(component_scores(mine[i]), fitted.weights)
                out_of_fold[i] = None if total is None else (total, _grade(total, fitted.thresholds))
        judged = [(r, p) for r, p in zip(mine, out_of_fold, strict=True) if p is not None]
        labels = [r.snapshot.churned for r, _ in judged]
        final = fit_segment(mine, card)
        bands = fit_probability_bands([(p[0], r.snapshot.churned) for r, p in judged])
        proposed[segment] = replace(
            card, version=card.version + 1, weights=final.weights, thresholds=final.thresholds,
            calibration=Calibration(bands, precision, source))
        segments[segment] = {
            "snapshots": len(mine), "churned": churned, "judged_out_of_fold": len(judged),
            "auc": {"current_as_scored": rounded(auc([r.risk for r, _ in judged], labels)),
                    "current_weights_refit_formula": rounded(auc(
                        [-(weighted_total(component_scores(r), card.weights) or 0.0) for r, _ in judged], labels)),
                    "proposed_out_of_fold": rounded(auc([-p[0] for _, p in judged], labels))},
            "churn_rate_by_grade": {
                "current": _rates((r.grade, r.snapshot.churned) for r, _ in judged),
                "proposed_out_of_fold": _rates((p[1], r.snapshot.churned) for r, p in judged)},
            "weights": {"current": {c: card.weights.get(c, 0.0) for c in COMPONENTS}, "proposed": final.weights},
            "thresholds": {"current": _bands(card.thresholds), "proposed": _bands(final.thresholds)},
            "churn_probability": [{"min_score": b.min_score, "probability": b.probability} for b in bands],
        }
    return {"segments": segments, "kind_precision": precision, "proposed": proposed}


def _rates(pairs: Any) -> dict[str, dict[str, Any]]:
    counts: dict[str, list[int]] = {}
    for grade, churned in pairs:
        seen = counts.setdefault(grade, [0, 0])
        seen[0] += 1
        seen[1] += bool(churned)
    return {g: {"snapshots": n, "churned": c, "churn_rate": rounded(c / n)} for g, (n, c) in sorted(counts.items())}


def _bands(t: GradeThresholds) -> dict[str, float]:
    return {"green_enter": t.green_enter, "green_exit": t.green_exit, "red_enter": t.red_enter, "red_exit": t.red_exit}
