"""`python -m services.health.backtest.calibrate --events FILE [--scorecards JSON] [--out DIR]`: fit the
scorecards to a book's own history and propose them, changing nothing.

Replays the history through the health service's code with the current cards (the backtest), fits
weights, grade bands and churn probabilities per segment out of fold (`fit.py`), and writes:

- DIR/calibration.json: per segment, the current and proposed figures on the same snapshots;
- DIR/proposed/<segment>.json: each proposed card, the body for
  `POST /v1/scorecards/<segment>/preview` (how the book would read with it) and, once a person has
  looked, `PUT /v1/scorecards/<segment>`. Nothing changes until someone PUTs it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from services.health.backtest.__main__ import dataset_section
from services.health.backtest.core import BacktestSettings, summarise
from services.health.backtest.fit import calibrate
from services.health.backtest.replay import default_scorecards, scorecards_from_json
from services.health.backtest.run import replay_archive
from services.health.domain import scorecard_to_json
from shared.backtest.history import read_archive


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m services.health.backtest.calibrate",
                                description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--events", type=Path, action="append", required=True,
                   help="JSONL archive of input envelopes (.gz allowed); repeat for several files")
    p.add_argument("--scorecards", type=Path, help="JSON {segment: scorecard} in force; default: the built-in ones")
    p.add_argument("--out", type=Path, default=Path("calibration-out"))
    p.add_argument("--folds", type=int, default=5, help="folds by account (at least 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="processes replaying accounts (figures do not depend on it)")
    args = p.parse_args(argv)
    if args.folds < 2:
        p.error("--folds: at least 2 (every account is judged by a fit that never saw it)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    archive = read_archive(args.events)
    horizon = archive.horizon
    if horizon is None:
        print("no valid event in the archive", file=sys.stderr)
        return 2
    cards = scorecards_from_json(json.loads(args.scorecards.read_text())) if args.scorecards else default_scorecards()
    settings = BacktestSettings(folds=args.folds, seed=args.seed)
    results = replay_archive(archive, horizon=horizon, scorecards=cards, settings=settings, workers=args.workers)
    backtest = summarise(results, horizon=horizon, settings=settings)
    dataset = dataset_section(archive)
    source = (f"calibrated on {dataset['name']}: {dataset['accounts']} accounts to {horizon.date().isoformat()}, "
              f"fitted {datetime.now(UTC).date().isoformat()}")
    fitted = calibrate([row for r in results for row in r.rows], cards, alerts=backtest["alerts"],
                       folds=args.folds, seed=args.seed, source=source)
    proposed = fitted.pop("proposed")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "proposed").mkdir(exist_ok=True)
    for segment, card in proposed.items():
        (args.out / "proposed" / f"{segment}.json").write_text(json.dumps(scorecard_to_json(card), indent=1) + "\n")
    report = {"dataset": dataset, "horizon": horizon.isoformat(), "folds": args.folds, "seed": args.seed, **fitted}
    (args.out / "calibration.json").write_text(json.dumps(report, indent=1) + "\n")
    for segment, figures in fitted["segments"].items():
        if "auc" in figures:
            a = figures["auc"]
            print(f"{segment}: {figures['snapshots']} snapshots, AUC as scored {a['current_as_scored']}, "
                  f"proposed (out of fold) {a['proposed_out_of_fold']}")
        else:
            print(f"{segment}: {figures['kept']}")
    print(f"proposed cards in {args.out}/proposed/ (preview: POST /v1/scorecards/<segment>/preview with the file "
          f"as body; nothing changes until a PUT); figures in {args.out}/calibration.json "
          f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
