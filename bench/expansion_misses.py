"""Why upgrades are missed: for every judged upgrade of one data set, what the account looked like on
the 90 days before it and which rules fired, held back or not, with the default catalogue and thresholds.

    .venv/bin/python -m bench.expansion_misses archetypes-s2 [--catalogue PATH]

Per day (at the day's first event) it folds the history through `decide` as the backtest's replay
does (with the same cohort norms, rebuilt at every UTC midnight from every account), runs
`evaluate_triggers` on the snapshot without the open/cool-down bookkeeping, and notes the
latest episode of each (kind, product), so "no rule fired" and "fired but held back" are told apart.
Writes bench/results/expansion_misses-<data set>.json and prints a summary.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench.common import RESULTS
from bench.signal_quality import data_sets
from services.expansion.backtest.replay import DailyNorms, growth_by_day, norms_by_day, signal_events
from services.expansion.domain import (
    NO_NORMS,
    Catalogue,
    CohortNorms,
    Decided,
    ExpansionSignals,
    Thresholds,
    decide,
    parse_catalogue,
)
from services.expansion.domain.rules import evaluate_triggers
from services.expansion.domain.snapshot import snapshot
from services.expansion.domain.usage_level import recent_volumes
from shared.backtest.history import read_archive
from shared.backtest.outcomes import label_outcomes
from shared.days import day_number
from shared.events import Envelope

REPO = Path(__file__).resolve().parents[1]
WINDOW = 90


def account_days(account_id: str, events: Sequence[Envelope], catalogue: Catalogue,
                 t: Thresholds, norms: dict[int, CohortNorms]) -> dict[int, dict[str, Any]]:
    state = Decided(ExpansionSignals())
    days: dict[int, dict[str, Any]] = {}
    for event in signal_events(events):
        now = max(event.occurred_at, state.signals.latest_at or event.occurred_at)
        in_force = norms.get(day_number(now), NO_NORMS)
        state = decide(Decided(state.signals, state.latest), account_id, [event], catalogue=catalogue, thresholds=t,
                       norms=DailyNorms(norms))
        assert state.signals.latest_at is not None
        day = day_number(state.signals.latest_at)
        if day not in days:
            snap = snapshot(account_id, state.signals, t, as_of=state.signals.latest_at)
            raw = evaluate_triggers(snap, catalogue, t, in_force)
            level = in_force.level(snap.cohort, recent_volumes(snap))
            held = [(r.kind, prev.stage) for r in raw if (prev := state.latest.get((r.kind, r.product))) is not None]
            days[day] = {"raw": {r.kind for r in raw}, "opened": set(), "growth": snap.usage_growth,
                         "seats": snap.seats, "active": snap.active_users, "promoter": snap.satisfaction is not None,
                         "held": held, "features_with_baseline": len(snap.growth),
                         "level": None if level is None else level.share}
        days[day]["opened"] |= {n.trigger.kind for n in state.opened}
    return days


def misses(name: str, catalogue: Catalogue) -> list[dict[str, Any]]:
    t = Thresholds()
    archive = read_archive([next(d for d in data_sets() if d.name == name).ensure()])
    assert archive.horizon is not None
    horizon = archive.horizon.astimezone(UTC).date()
    norms = norms_by_day([r for h in archive.histories() for r in growth_by_day(
        signal_events(h.events), thresholds=t, last_day=day_number(archive.horizon))])
    out = []
    for history in archive.histories():
        outcomes = label_outcomes(history.account_id, history.events, horizon=horizon)
        upgrades = [c.on for c in outcomes.changes if c.kind == "expansion"]
        start = history.events[0].occurred_at.astimezone(UTC).date()
        days = account_days(history.account_id, history.events, catalogue, t, norms)
        user_ids = any(getattr(e.data, "user_id", None) for e in history.events if e.type == "usage.recorded")
        for on in upgrades:
            if on - timedelta(days=WINDOW) < start:
                continue
            window = [days[d] for d in range((on - timedelta(days=WINDOW)).toordinal(), on.toordinal()) if d in days]
            growths = [w["growth"] for w in window if w["growth"] is not None]
            levels = [w["level"] for w in window if w["level"] is not None]
            out.append({
                "account": history.account_id, "on": on.isoformat(),
                "opened": sorted({k for w in window for k in w["opened"]}),
                "fired": sorted({k for w in window for k in w["raw"]}),
                "held": sorted({h for w in window for h in w["held"]}),
                "max_growth": max(growths, default=None), "max_level": max(levels, default=None),
                "user_ids": user_ids,
                "seats": window[-1]["seats"] if window else None,
                "max_active": max((w["active"] for w in window), default=0),
                "promoter": any(w["promoter"] for w in window),
                "features_with_baseline": window[-1]["features_with_baseline"] if window else None,
                "days_since_previous_upgrade": min(((on - u).days for u in upgrades if u < on), default=None),
            })
    return out


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    missed = [r for r in rows if not r["opened"]]

    def growth(r: dict[str, Any]) -> float | None:
        return None if r["max_growth"] is None else round(min(r["max_growth"], 2.0), 1)

    return {
        "judged": len(rows), "preceded": len(rows) - len(missed), "missed": len(missed),
        "missed_fired_but_held": Counter(str(r["held"]) for r in missed if r["fired"]).most_common(),
        "missed_nothing_fired": sum(1 for r in missed if not r["fired"]),
        "missed_without_user_ids": sum(1 for r in missed if not r["user_ids"]),
        "missed_with_promoter": sum(1 for r in missed if r["promoter"]),
        "missed_without_growth_baseline": sum(1 for r in missed if r["max_growth"] is None),
        "missed_max_growth": Counter(growth(r) for r in missed).most_common(),
        "missed_max_level": Counter(None if r["max_level"] is None else round(r["max_level"], 1)
                                    for r in missed).most_common(),
        "missed_first_upgrades": sum(1 for r in missed if r["days_since_previous_upgrade"] is None),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data_set")
    p.add_argument("--catalogue", type=Path, default=REPO / "deploy" / "catalogue.yaml")
    args = p.parse_args()
    rows = misses(args.data_set, parse_catalogue(yaml.safe_load(args.catalogue.read_text())))
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"summary": summary(rows), "upgrades": rows}
    (RESULTS / f"expansion_misses-{args.data_set}.json").write_text(json.dumps(result, indent=1, default=str))
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
