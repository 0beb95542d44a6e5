"""`python -m services.health.backtest.calibrate --events FILE [--scorecards JSON] [--out DIR]`: fit the
scorecards to a book's own history and propose them, changing nothing.

Replays the history through the health service's code with the current cards (the backtest), and in
the same pass with each alert-rule variant (`alert_variants.py`); fits weights, grade bands and churn
probabilities (`fit.py`) and alert rules (`alert_fit.py`) per segment out of fold, and writes:

- DIR/calibration.json: per segment, the current and proposed figures on the same snapshots and
  accounts (the proposed ones out of fold), for the score and for the alerts;
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
from typing import Any

from services.health.backtest.__main__ import dataset_section
from services.health.backtest.alert_fit import fit_alert_rules, with_alert_rules
from services.health.backtest.alert_variants import variant_cards, variant_grid
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
    grid = variant_grid(cards)
    results = replay_archive(archive, horizon=horizon, scorecards=cards, settings=settings, workers=args.workers,
                             alert_variants=[variant_cards(cards, v) for v in grid])
    backtest = summarise(results, horizon=horizon, settings=settings)
    dataset = dataset_section(archive)
    source = (f"calibrated on {dataset['name']}: {dataset['accounts']} accounts to {horizon.date().isoformat()}, "
              f"fitted {datetime.now(UTC).date().isoformat()}")
    fitted = calibrate([row for r in results for row in r.rows], cards, alerts=backtest["alerts"],
                       folds=args.folds, seed=args.seed, source=source)
    alerts = fit_alert_rules([r.alert_book for r in results if r.alert_book is not None], cards, grid,
                             horizon=horizon.date(), folds=args.folds, seed=args.seed)
    proposed = with_alert_rules(fitted.pop("proposed"), cards, alerts, source=source)
    fitted["alert_rules"] = {"segments": alerts["segments"], "book": alerts["book"],
                             "variants_replayed": len(grid)}
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
    for segment, figures in alerts["segments"].items():
        print(f"{segment} alerts: {figures.get('verdict') or figures.get('kept')}")
        print(_alert_line("  in force", figures["current"]))
        if "proposed" in figures:
            print(f"  proposed: {_rules_text(figures['proposed'])}")
        for name in ("kinds_off_out_of_fold", "kinds_off_and_sustain_out_of_fold"):
            if name in figures:
                print(_alert_line(f"  {name.replace('_', ' ')}", figures[name]))
    print(_alert_line("book alerts in force", alerts["book"]["current"]))
    print(_alert_line("book alerts proposed, out of fold", alerts["book"]["proposed_out_of_fold"]))
    print(f"proposed cards in {args.out}/proposed/ (preview: POST /v1/scorecards/<segment>/preview with the file "
          f"as body; nothing changes until a PUT); figures in {args.out}/calibration.json "
          f"({time.perf_counter() - started:.0f} s)")
    return 0


def _alert_line(label: str, f: dict[str, Any]) -> str:
    kinds = "; ".join(f"{kind} {k['precision']} ({k['followed']}/{k['judgeable']}, lead {k['median_lead_days']} d)"
                      for kind, k in f["by_kind"].items())
    return (f"{label}: {f['alerts_per_account_quarter']} alerts/account-quarter, precision {f['precision']}, "
            f"recall_30d {f['recall_30d']} of {f['churners']}, median lead {f['median_lead_days']} d, "
            f"value {f['value']}; by kind: {kinds or 'none'}")


def _rules_text(r: dict[str, Any]) -> str:
    return (f"enabled {', '.join(r['enabled'])}; grade_red sustain {r['grade_red_sustain_days']} d, "
            f"usage_decline sustain {r['usage_decline_sustain_days']} d")


if __name__ == "__main__":
    sys.exit(main())
