"""Signal quality: the health backtest on every data set nobody on the team wrote, with the supervised
baseline on the same snapshots in the same run.

    make bench-signal                      # every data set
    .venv/bin/python -m bench.signal_quality --only socialnet7 --workers 1

Data sets (generated on first use into bench/.cache/datasets/, reused while their parameters match):
ChurnSim models crm6, crm5 and socialnet7, seeds 1 and 2, daily and event granularity (the event
exports keep one simulated customer in EVENT_EVERY[model]: every simulated event is an evaluation
of the score, and crm accounts send about a thousand a month), and the archetype book.

Writes bench/results/signal_quality.json (a summary row per data set; history in .jsonl), the same
rows as a Markdown table in bench/results/signal_quality.md (signal_quality_partial.* for a run with
--only), and each data set's full report and HTML page in bench/results/signal_quality/<data set>/.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import RESULTS, write_result
from bench.datasets import archetypes, churnsim
from bench.datasets.common import CACHE, read_meta
from services.health.backtest.__main__ import dataset_section
from services.health.backtest.core import BacktestSettings
from services.health.backtest.replay import default_scorecards
from services.health.backtest.run import backtest_archive
from shared.backtest.history import read_archive
from shared.backtest.html import render_page

SEEDS = (1, 2)
CHURNSIM_SIZE = {"crm6": (100, 15), "crm5": (100, 15), "socialnet7": (100, 12)}
"""Initial customers and months simulated per model (new customers join every month on top)."""
EVENT_EVERY = {"crm6": 4, "crm5": 4, "socialnet7": 2}


@dataclass(frozen=True)
class DataSet:
    name: str
    parameters: dict[str, Any]
    """What the cached file must have been built with (compared with its meta)."""
    build: Callable[[Path], dict[str, Any]]

    @property
    def path(self) -> Path:
        return CACHE / f"{self.name}.jsonl.gz"

    def ensure(self) -> Path:
        meta = read_meta(self.path)
        if meta is None or any(meta.get(k) != v for k, v in self.parameters.items()):
            self.build(self.path)
        return self.path


def data_sets() -> list[DataSet]:
    out = []
    for model, (customers, months) in CHURNSIM_SIZE.items():
        for seed in SEEDS:
            for granularity, every in (("daily", 1), ("event", EVENT_EVERY[model])):
                params = {"converter_version": churnsim.CONVERTER_VERSION, "raw_version": churnsim.RAW_VERSION,
                          "model": model, "seed": seed,
                          "granularity": granularity,
                          "parameters": {"init_customers": customers, "months": months, "one_customer_in": every}}

                def build(path: Path, model: str = model, seed: int = seed, granularity: str = granularity,
                          customers: int = customers, months: int = months, every: int = every) -> dict[str, Any]:
                    return churnsim.build(path, model=model, seed=seed,
                                          granularity="event" if granularity == "event" else "daily",
                                          customers=customers, months=months, every=every)

                out.append(DataSet(f"churnsim-{model}-s{seed}-{granularity}", params, build))
    for seed in SEEDS:
        params = {"generator_version": archetypes.GENERATOR_VERSION, "seed": seed,
                  "parameters": {"accounts": 300, "months": 15}}

        def build_book(path: Path, seed: int = seed) -> dict[str, Any]:
            return archetypes.build(path, seed=seed, accounts=300, months=15)

        out.append(DataSet(f"archetypes-s{seed}", params, build_book))
    return out


def summary_row(report: dict[str, Any], seconds: float) -> dict[str, Any]:
    r, a = report["ranking"], report["alerts"]
    return {
        "data_set": report["dataset"]["name"], "accounts": r["accounts"], "snapshots": r["snapshots"],
        "churned": r["churned"], "churn_rate": r["churn_rate"], "auc_score": r["auc"]["score"],
        "auc_baseline": r["auc"]["baseline"], "auc_events_30d": r["auc"]["events_30d"],
        "score_minus_baseline_90": r["auc_interval_90"]["score_minus_baseline"],
        "alerts_per_account_quarter": a["per_account_quarter"], "alert_precision": a["precision"]["precision"],
        "churners": a["recall"]["churners"], "recall_30d": a["recall"]["recall"],
        "recall_with_open": a["recall"]["recall_with_open"],
        "median_lead_days": a["lead_days"]["median"], "events": report["dataset"]["events"],
        "evaluations": report["replay"]["evaluations"], "seconds": round(seconds, 1),
    }


COLUMNS = ("data_set", "accounts", "snapshots", "churn_rate", "auc_score", "auc_baseline", "auc_events_30d",
           "score_minus_baseline_90", "alerts_per_account_quarter", "alert_precision", "churners", "recall_30d",
           "recall_with_open", "median_lead_days")


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join("—" if row[c] is None else f"{row[c]:g}" if isinstance(row[c], float)
                                       else str(row[c]) for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def run(only: str | None, workers: int) -> list[dict[str, Any]]:
    rows = []
    settings = BacktestSettings()
    for data_set in data_sets():
        if only and only not in data_set.name:
            continue
        path = data_set.ensure()
        started = time.perf_counter()
        archive = read_archive([path])
        assert archive.horizon is not None, f"{path} holds no valid event"
        report = backtest_archive(archive, horizon=archive.horizon, scorecards=default_scorecards(),
                                  settings=settings, workers=workers)
        report = {"dataset": dataset_section(archive), **report}
        seconds = time.perf_counter() - started
        out = RESULTS / "signal_quality" / data_set.name
        out.mkdir(parents=True, exist_ok=True)
        (out / "backtest.json").write_text(json.dumps(report, indent=1) + "\n")
        (out / "backtest.html").write_text(render_page(report, title=f"Health backtest: {data_set.name}"))
        rows.append(summary_row(report, seconds))
        print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", help="run the data sets whose name contains this")
    p.add_argument("--workers", type=int, default=2, help="processes replaying accounts (default 2: the "
                   "machine's cores; the figures do not depend on it)")
    args = p.parse_args()
    rows = run(args.only, args.workers)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table = markdown(rows)
    name = "signal_quality_partial" if args.only else "signal_quality"  # a partial run never hides a full one
    (RESULTS / f"{name}.md").write_text(table)
    write_result(name, {"scorecards": "default", "settings": {"snapshots": ["month-end"]}, "only": args.only,
                        "data_sets": rows})
    print(table)


if __name__ == "__main__":
    main()
