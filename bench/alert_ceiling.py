"""What each signal-quality data set allows a churn-risk alert to do (`shared/backtest/ceiling.py`):
alerts from a usage model fitted to the book's own outcomes, every threshold tried, judged like the
service's, beside the bars of issue 8.

    .venv/bin/python -m bench.alert_ceiling [--only socialnet7,archetypes] [--every 1] [--model gbm]

Writes bench/results/alert_ceiling.json (alert_ceiling_gbm.json with --model gbm; appended to .jsonl) and
prints a Markdown table. The same figures for any history (logistic model):
`python -m services.health.backtest --alert-ceiling`.

`--model gbm` fits gradient-boosted trees (scikit-learn's HistGradientBoostingClassifier; `make
bench-alert-ceiling-gbm` installs it into .venv, it is not a runtime dependency) on the same inputs, so the
model can use interactions (a young account's volume, a fall on an established one) and thresholds the
logistic regression cannot: whether the bars are out of reach for the inputs, or only for a linear model.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.common import write_result
from bench.signal_quality import data_sets
from shared.backtest.baseline import Matrix, fit_logistic
from shared.backtest.ceiling import BUDGET_DAYS, Fit, Model, alert_ceiling
from shared.backtest.history import read_archive

GBM_PARAMS = {"learning_rate": 0.05, "max_iter": 300, "max_leaf_nodes": 15, "min_samples_leaf": 40,
              "l2_regularization": 1.0, "early_stopping": False, "random_state": 0}
"""Moderate trees, a fixed number of rounds (no validation split drawn at random), a fixed seed: the same
figures on every run."""


class _Trees:
    def __init__(self, classifier: Any) -> None:
        self._classifier = classifier

    def predict(self, x: Matrix) -> Matrix:
        out: Matrix = self._classifier.predict_proba(x)[:, 1]
        return out


def fit_trees(x: Matrix, y: Matrix) -> Model:
    from sklearn.ensemble import HistGradientBoostingClassifier  # bench-only: make bench-alert-ceiling-gbm

    return _Trees(HistGradientBoostingClassifier(**GBM_PARAMS).fit(x, y))


MODELS: dict[str, Fit] = {"logistic": fit_logistic, "gbm": fit_trees}


def _cell(point: dict[str, Any] | None) -> str:
    if point is None:
        return "none"
    return f"{point['per_account_quarter']} / {point['precision']} / {point['recall_30d']}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="socialnet7,archetypes", help="comma-separated parts of data set names")
    p.add_argument("--every", type=int, default=1, help="days between moments scored")
    p.add_argument("--model", choices=sorted(MODELS), default="logistic",
                   help="gbm: gradient-boosted trees on the same inputs (needs scikit-learn)")
    args = p.parse_args()
    wanted = [w for w in args.only.split(",") if w]
    results: dict[str, Any] = {}
    print("| data set | churners | best precision with recall >= 0.7 | best recall with precision >= 1/3 | "
          "best recall at <= 0.5 alerts | all bars |")
    print("|---|---|---|---|---|---|")
    for data_set in data_sets():
        if not any(w in data_set.name for w in wanted):
            continue
        archive = read_archive([data_set.ensure()])
        assert archive.horizon is not None
        result = alert_ceiling(archive.histories(), until=archive.horizon, every=args.every, fit=MODELS[args.model])
        results[data_set.name] = result
        f = result["frontier"]
        churners = result["points"][0]["churners"] if result["points"] else 0
        print(f"| {data_set.name} | {churners} | {_cell(f['best_precision_at_recall'])} | "
              f"{_cell(f['best_recall_at_precision'])} | {_cell(f['best_recall_within_rate'])} | "
              f"{'yes' if f['meets_all'] else 'no'} |", flush=True)
    name = "alert_ceiling" if args.model == "logistic" else f"alert_ceiling_{args.model}"
    write_result(name, {"every": args.every, "budget_days": BUDGET_DAYS, "model": args.model,
                        **({"params": GBM_PARAMS} if args.model == "gbm" else {}), "data_sets": results})


if __name__ == "__main__":
    main()
