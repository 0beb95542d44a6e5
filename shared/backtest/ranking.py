"""How well a score ranks churn at the snapshots, beside the supervised baseline on the SAME snapshots:
AUC overall, per component and per segment, churn rate and lift by grade, ROC curves.

A row carries the score as risk (higher = more likely to churn) and each component likewise, so a
score whose scale runs the other way (health: high = good) is converted once, by its caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.backtest.activity import Activity
from shared.backtest.baseline import FEATURES, cross_validate, features
from shared.backtest.metrics import Rate, auc, auc_intervals, rate_table, rates_by, roc_points, rounded
from shared.backtest.snapshots import Snapshot


@dataclass(frozen=True, slots=True)
class ScoredSnapshot:
    snapshot: Snapshot
    risk: float
    grade: str
    component_risks: Mapping[str, float | None]
    """By component name, and by "component.part" for the measures inside one (reported apart as
    `parts`); None: no data at this snapshot."""
    activity: Activity


def ranking_report(rows: Sequence[ScoredSnapshot], *, grades: Sequence[str], components: Sequence[str],
                   folds: int, seed: int) -> dict[str, Any]:
    labels = [r.snapshot.churned for r in rows]
    accounts = [r.snapshot.account_id for r in rows]
    baseline = cross_validate([features(r.activity) for r in rows], labels, accounts, folds=folds, seed=seed)
    score = [r.risk for r in rows]
    quiet = [-r.activity.events for r in rows]  # fewer events = more risk
    overall = Rate(len(rows), sum(labels))
    by_grade = rates_by((r.grade, r.snapshot.churned) for r in rows)
    return {
        "snapshots": len(rows),
        "accounts": len(set(accounts)),
        "churned": overall.positives,
        "churn_rate": rounded(overall.rate),
        "contracted": sum(r.snapshot.contracted for r in rows),
        "auc": {
            "score": rounded(auc(score, labels)),
            "baseline": rounded(auc(baseline.probabilities, labels)),
            "events_30d": rounded(auc(quiet, labels)),
        },
        "auc_interval_90": auc_intervals({"score": score, "baseline": baseline.probabilities, "events_30d": quiet},
                                         labels, accounts, differences=[("score", "baseline")], seed=seed),
        "grades": rate_table({g: by_grade[g] for g in grades if g in by_grade}, overall=overall),
        "components": {name: _component(rows, labels, name) for name in components},
        "parts": {name: _component(rows, labels, name)
                  for name in sorted({k for r in rows for k in r.component_risks} - set(components))},
        "segments": _groups([r.snapshot.segment for r in rows], labels, score, baseline.probabilities, quiet),
        "snapshot_kinds": _groups([r.snapshot.kind for r in rows], labels, score, baseline.probabilities, quiet),
        "baseline": {"features": list(FEATURES), "folds": folds, "grouped_by": "account",
                     "coefficients_all_rows": baseline.coefficients},
        "roc": {
            "score": roc_points(score, labels),
            "baseline": roc_points(baseline.probabilities, labels),
            "events_30d": roc_points(quiet, labels),
        },
    }


def _component(rows: Sequence[ScoredSnapshot], labels: Sequence[bool], name: str) -> dict[str, Any]:
    present = [(risk, label) for r, label in zip(rows, labels, strict=True)
               if (risk := r.component_risks.get(name)) is not None]
    return {
        "auc": rounded(auc([p[0] for p in present], [p[1] for p in present])),
        "measured": len(present),
        "coverage": rounded(len(present) / len(rows)) if rows else None,
    }


def _groups(keys: Sequence[str], labels: Sequence[bool], score: Sequence[float], baseline: Sequence[float],
            quiet: Sequence[float]) -> dict[str, Any]:
    """The ranking figures within each group of snapshots (segment, snapshot kind)."""
    out: dict[str, Any] = {}
    for key in sorted(set(keys)):
        idx = [i for i, k in enumerate(keys) if k == key]
        seg_labels = [labels[i] for i in idx]
        out[key] = {
            "snapshots": len(idx), "churned": sum(seg_labels),
            "churn_rate": rounded(sum(seg_labels) / len(idx)),
            "auc_score": rounded(auc([score[i] for i in idx], seg_labels)),
            "auc_baseline": rounded(auc([baseline[i] for i in idx], seg_labels)),
            "auc_events_30d": rounded(auc([quiet[i] for i in idx], seg_labels)),
        }
    return out
