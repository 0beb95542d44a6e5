"""`python -m services.health.backtest --events FILE [--events FILE ...] [--snapshots month-end]
[--out DIR] [--alert-ceiling]`: replay an event history through the health service's code and judge it.

Writes DIR/backtest.json (every figure) and DIR/backtest.html (one self-contained page), and prints
the headline figures. A data set's generator may leave a `<FILE>.meta.json` beside it (name, seed,
parameters); it is copied into the report.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from services.health.backtest.core import BacktestSettings
from services.health.backtest.replay import default_scorecards, scorecards_from_json
from services.health.backtest.run import backtest_archive
from shared.backtest.ceiling import alert_ceiling
from shared.backtest.history import Archive, read_archive
from shared.backtest.html import render_page
from shared.backtest.snapshots import SNAPSHOT_KINDS, SnapshotKind


def _kinds(text: str) -> tuple[SnapshotKind, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in SNAPSHOT_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"snapshots: {', '.join(unknown) or 'none given'}; "
                                         f"choose from {', '.join(SNAPSHOT_KINDS)}")
    return cast(tuple[SnapshotKind, ...], kinds)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("--until needs a UTC offset, e.g. 2026-06-30T23:59:59Z")
    return moment.astimezone(UTC)


def _at_least_two(text: str) -> int:
    folds = int(text)
    if folds < 2:
        raise argparse.ArgumentTypeError("--folds: at least 2 (every account must be scored by a model fitted "
                                         "without it)")
    return folds


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m services.health.backtest", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=Path, action="append", required=True, help="JSONL archive of input envelopes "
                   "(.gz allowed); repeat for several files")
    p.add_argument("--snapshots", type=_kinds, default=("month-end",),
                   help="comma-separated: month-end, pre-renewal (90 days before each term end)")
    p.add_argument("--out", type=Path, default=Path("backtest-out"))
    p.add_argument("--until", type=_moment, help="horizon (default: the latest event time)")
    p.add_argument("--scorecards", type=Path, help="JSON {segment: scorecard}; default: the built-in scorecards")
    p.add_argument("--folds", type=_at_least_two, default=5, help="folds of the baseline's grouped cross-validation")
    p.add_argument("--seed", type=int, default=0, help="seed of the fold assignment")
    p.add_argument("--workers", type=int, default=1, help="processes replaying accounts (the figures do not "
                   "depend on it)")
    p.add_argument("--name", help="data set name for the report (default: the file name or its meta)")
    p.add_argument("--alert-ceiling", action="store_true",
                   help="also measure what the book allows an alert to do: a usage model fitted to its outcomes, "
                        "rescored daily, every threshold tried (shared/backtest/ceiling.py; about a minute per "
                        "300 accounts)")
    return p.parse_args(argv)


def dataset_section(archive: Archive, *, name: str | None = None) -> dict[str, Any]:
    """The report's `dataset`: the generator's meta sidecars (name, seed, parameters), then what was read."""
    meta: dict[str, Any] = {}
    for path in archive.paths:
        sidecar = path.with_name(path.name + ".meta.json")
        if sidecar.exists():
            meta.update(json.loads(sidecar.read_text()))
    meta["name"] = name or meta.get("name") or "+".join(p.name for p in archive.paths)
    return {**meta, "files": [str(p) for p in archive.paths], **archive.stats.to_json(),
            "accounts": archive.accounts, "first_event": archive.first.isoformat() if archive.first else None}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    archive = read_archive(args.events)
    horizon = args.until or archive.horizon
    if horizon is None:
        print("no valid event in the archive", file=sys.stderr)
        return 2
    scorecards = (scorecards_from_json(json.loads(args.scorecards.read_text())) if args.scorecards
                  else default_scorecards())
    settings = BacktestSettings(snapshots=args.snapshots, folds=args.folds, seed=args.seed,
                                scorecards=str(args.scorecards) if args.scorecards else "default")
    report = backtest_archive(archive, horizon=horizon, scorecards=scorecards, settings=settings,
                              workers=args.workers)
    dataset = dataset_section(archive, name=args.name)
    report = {"dataset": dataset, **report}
    if args.alert_ceiling:
        report["alert_ceiling"] = alert_ceiling(archive.histories(), until=horizon)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "backtest.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "backtest.html").write_text(render_page(report, title=f"Health backtest: {dataset['name']}"))
    print(headline(report))
    if "alert_ceiling" in report:
        print(ceiling_line(report["alert_ceiling"]))
    print(f"written to {args.out}/backtest.json and backtest.html in {time.perf_counter() - started:.0f} s")
    return 0


def headline(report: dict[str, Any]) -> str:
    r, a = report["ranking"], report["alerts"]
    return (f"{report['dataset']['name']}: {r['snapshots']} snapshots of {r['accounts']} accounts, "
            f"churn rate {r['churn_rate']}; AUC score {r['auc']['score']} baseline {r['auc']['baseline']} "
            f"events-30d {r['auc']['events_30d']} (score - baseline, 90% interval: "
            f"{r['auc_interval_90']['score_minus_baseline']}); alerts/account-quarter {a['per_account_quarter']}, "
            f"precision {a['precision']['precision']}, recall {a['recall']['recall']} "
            f"(with alerts still open: {a['recall']['recall_with_open']})")


def ceiling_line(ceiling: dict[str, Any]) -> str:
    f = ceiling["frontier"]
    at_recall, at_precision = f["best_precision_at_recall"], f["best_recall_at_precision"]
    recall = ("recall 0.7 is not reached within 0.5 alerts per account-quarter" if at_recall is None else
              f"at recall {at_recall['recall_30d']} the best precision is {at_recall['precision']}")
    precision = ("precision 1/3 is not reached within the rate" if at_precision is None else
                 f"at precision {at_precision['precision']} the best recall is {at_precision['recall_30d']}")
    return (f"what the book allows (a usage model fitted to its outcomes, in sample): {recall}; {precision}; "
            f"all three bars at once: {'yes' if f['meets_all'] else 'no'}")


if __name__ == "__main__":
    sys.exit(main())
