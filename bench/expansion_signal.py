"""Expansion signal quality: the upsell triggers replayed through the pure expansion domain on data
sets nobody on the team wrote, judged against the upgrades that followed (recall: upgrades preceded
by a trigger within 90 days; precision: triggers followed by an upgrade within 90 days), with the
month-end baselines (usage growth top decile, logistic regression top decile) in the same run.

    make bench-expansion
    .venv/bin/python -m bench.expansion_signal --only archetypes --workers 1

Data sets: the archetype book (seeds 1, 2: growing accounts amend to more seats and ARR, and some
renew for more) and the ChurnSim models with plan upgrades (crm6, crm5, seeds 1, 2, daily counts:
a renewal onto a dearer plan is an upgrade); socialnet7 has no upgrades (one plan), so it is run
only for how many triggers fire. The catalogue is the service's default (deploy/catalogue.yaml) and
the thresholds the defaults: nothing is fitted to the data scored. The crm books are run a third
time ("plan catalogue") with their own plans as the catalogue (bench/datasets/churnsim_plans.yaml,
transcribed from the simulator's plan table: tiers, prices, the monthly searches each plan
includes), as a vendor would configure Orchard: the default catalogue knows none of those plans, so
plan_limit cannot fire there.

Writes bench/results/expansion_signal.json (history in .jsonl) and expansion_signal.md
(expansion_signal_partial.* for a run with --only).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import yaml

from bench.common import RESULTS, write_result
from bench.signal_quality import data_sets
from services.expansion.backtest.run import backtest_archive
from services.expansion.domain import Catalogue, Thresholds, parse_catalogue
from shared.backtest.history import read_archive

REPO = Path(__file__).resolve().parents[1]
DATA_SETS = ("archetypes-s1", "archetypes-s2", "churnsim-crm6-s1-daily", "churnsim-crm6-s2-daily",
             "churnsim-crm5-s1-daily", "churnsim-crm5-s2-daily", "churnsim-socialnet7-s1-daily")
PLAN_CATALOGUE = REPO / "bench" / "datasets" / "churnsim_plans.yaml"
PLAN_CATALOGUE_BOOKS = ("churnsim-crm5", "churnsim-crm6")
"""The books whose plans that catalogue describes."""
COLUMNS = ("data_set", "variant", "accounts", "upgrades", "judged_upgrades", "triggers", "triggers_per_account_year",
           "recall", "precision", "usage_growth_recall", "usage_growth_precision", "usage_level_recall",
           "usage_level_precision", "growth_top_decile_recall",
           "growth_top_decile_precision", "logistic_top_decile_recall", "logistic_top_decile_precision",
           "base_rate", "auc_logistic")


def row(name: str, variant: str, report: dict[str, Any], seconds: float) -> dict[str, Any]:
    rules, baselines = report["rules"], report["baselines"]
    return {
        "data_set": name, "variant": variant, "accounts": report["accounts"], "upgrades": report["upgrades"],
        "judged_upgrades": rules["any"]["judged_upgrades"], "triggers": report["triggers"],
        "triggers_per_account_year": report["triggers_per_account_year"],
        "recall": rules["any"]["recall"], "precision": rules["any"]["precision"],
        **{f"{kind}_{m}": rules[kind][m] for kind in ("usage_growth", "usage_level") for m in ("recall", "precision")},
        **{f"{kind}_{m}": baselines[kind][m] for kind in ("growth_top_decile", "logistic_top_decile")
           for m in ("recall", "precision")},
        "base_rate": report["base_rate"]["rate"], "auc_logistic": report["baseline_model"]["auc_logistic"],
        "seconds": round(seconds, 1),
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join("—" if r[c] is None else f"{r[c]:g}" if isinstance(r[c], float) else str(r[c])
                                       for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def run(only: str | None, workers: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    default = _catalogue(REPO / "deploy" / "catalogue.yaml")
    plans = _catalogue(PLAN_CATALOGUE)
    thresholds = Thresholds()
    rows, reports = [], {}
    for data_set in data_sets():
        if data_set.name not in DATA_SETS or (only and only not in data_set.name):
            continue
        archive = read_archive([data_set.ensure()])
        variants = [("cohort norms", True, default), ("own growth only", False, default)]
        if data_set.name.startswith(PLAN_CATALOGUE_BOOKS):
            variants.append(("plan catalogue", True, plans))
        for variant, cohorts, catalogue in variants:
            started = time.perf_counter()
            report = backtest_archive(archive, catalogue=catalogue, thresholds=thresholds, cohorts=cohorts,
                                      workers=workers)
            rows.append(row(data_set.name, variant, report, time.perf_counter() - started))
            reports[f"{data_set.name} / {variant}"] = report
            print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    return rows, reports


def _catalogue(path: Path) -> Catalogue:
    return parse_catalogue(yaml.safe_load(path.read_text()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", help="run the data sets whose name contains this")
    p.add_argument("--workers", type=int, default=2, help="processes replaying accounts (figures do not depend on it)")
    args = p.parse_args()
    rows, reports = run(args.only, args.workers)
    name = "expansion_signal_partial" if args.only else "expansion_signal"  # a partial run never hides a full one
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text(markdown(rows))
    write_result(name, {"thresholds": "default", "window_days": 90,
                        "catalogue": "deploy/catalogue.yaml; plan catalogue rows: bench/datasets/churnsim_plans.yaml",
                        "only": args.only, "data_sets": rows, "reports": reports})


if __name__ == "__main__":
    main()
