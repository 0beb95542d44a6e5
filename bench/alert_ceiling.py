"""What each signal-quality data set allows a churn-risk alert to do (`shared/backtest/ceiling.py`):
alerts from a usage model fitted to the book's own outcomes, every threshold tried, judged like the
service's, beside the bars of issue 8.

    .venv/bin/python -m bench.alert_ceiling [--only socialnet7,archetypes] [--every 1]

Writes bench/results/alert_ceiling.json (appended to .jsonl) and prints a Markdown table. The same
figures for any history: `python -m services.health.backtest --alert-ceiling`.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.common import write_result
from bench.signal_quality import data_sets
from shared.backtest.ceiling import BUDGET_DAYS, alert_ceiling
from shared.backtest.history import read_archive


def _cell(point: dict[str, Any] | None) -> str:
    if point is None:
        return "none"
    return f"{point['per_account_quarter']} / {point['precision']} / {point['recall_30d']}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="socialnet7,archetypes", help="comma-separated parts of data set names")
    p.add_argument("--every", type=int, default=1, help="days between moments scored")
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
        result = alert_ceiling(archive.histories(), until=archive.horizon, every=args.every)
        results[data_set.name] = result
        f = result["frontier"]
        churners = result["points"][0]["churners"] if result["points"] else 0
        print(f"| {data_set.name} | {churners} | {_cell(f['best_precision_at_recall'])} | "
              f"{_cell(f['best_recall_at_precision'])} | {_cell(f['best_recall_within_rate'])} | "
              f"{'yes' if f['meets_all'] else 'no'} |", flush=True)
    write_result("alert_ceiling", {"every": args.every, "budget_days": BUDGET_DAYS, "data_sets": results})


if __name__ == "__main__":
    main()
