"""Why churners are missed: each churner of a signal-quality data set, put in the first category that
explains why it had (or had no) churn-risk alert 30-120 days before its churn, from a replay through the
service's own path (`domain.advance`, with the cohort norms a live run would have had) that keeps what
the backtest drops: every midnight's grade, usage, held-back alerts and open alerts.

    .venv/bin/python -m bench.alert_timing --only archetypes-s2 [--usage-gate 50] [--workers 2]

`--usage-gate` replaces usage_decline's `max_usage_score` in every default card (50: the rule before
issue 8's recall fix). Writes bench/results/alert_timing.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any

from bench.common import write_result
from bench.signal_quality import data_sets
from services.health.backtest.core import norm_refreshes
from services.health.backtest.replay import (
    Scorecard,
    default_scorecards,
    norms_from_samples,
    sample_account,
)
from services.health.domain import NormsHistory, StoredAccount, advance
from shared.backtest.history import history_from_lines, read_archive
from shared.backtest.judging import FOLLOW_DAYS, LEAD_DAYS
from shared.backtest.outcomes import end_of_day, label_outcomes
from shared.signal_events import signal_event_of

YOUNG_DAYS = LEAD_DAYS + 7
"""Churned within this many days of its first event: under a week of history 30 days before the churn."""
COLLAPSE_DAYS = 14
CATEGORIES = (
    "alerted 30-120 days ahead",
    f"young: churned within {YOUNG_DAYS} days of its first event",
    "alerted over 120 days ahead; that alert still open, or the next held back (budget, cool-down)",
    "an alert held back by the budget or cool-down in the window",
    f"usage down by half (users by 30%) for {COLLAPSE_DAYS}+ days in the window, no alert",
    "red in the window, never for the 7-day sustain",
    "first alert within the last 30 days",
    "nothing alert-worthy in the window (never red, no usage collapse)",
)


@dataclass(frozen=True, slots=True)
class Day:
    on: date
    red: bool
    collapse: bool
    """Usage volume down by half, or daily users by 30%, against the 30 days before."""
    held_back: bool
    open: bool


def _day(evaluation: Any) -> Day:
    score = evaluation.score
    usage = score.components.get("usage")
    facts = usage.facts if usage is not None else {}
    users, volume = facts.get("active_users_decline_pct"), facts.get("usage_decline_pct")
    collapse = (users >= 30) if isinstance(users, int | float) else isinstance(volume, int | float) and volume >= 50
    held = any("budget" in s.reason or "cool-down" in s.reason for s in evaluation.decisions.suppressed)
    return Day(score.as_of.astimezone(UTC).date(), score.grade == "red", collapse, held,
               bool(evaluation.alert_state.open))


def _category(churned: date, first: date, raised: Sequence[date], days: Sequence[Day]) -> str:
    lo, hi = churned - timedelta(days=FOLLOW_DAYS), churned - timedelta(days=LEAD_DAYS)
    window = [d for d in days if lo <= d.on <= hi]
    run = longest = 0
    for d in window:
        run = run + 1 if d.collapse else 0
        longest = max(longest, run)
    checks = (
        any(lo <= r <= hi for r in raised),
        (churned - first).days < YOUNG_DAYS,
        any(r < lo for r in raised) and any(d.open or d.held_back for d in window),
        any(d.held_back for d in window),
        longest >= COLLAPSE_DAYS,
        any(d.red for d in window),
        any(hi < r < churned for r in raised),
    )
    return next((c for c, hit in zip(CATEGORIES, checks, strict=False) if hit), CATEGORIES[-1])


def _accounts(chunk: Sequence[tuple[str, list[bytes]]], horizon: datetime, cards: Mapping[str, Scorecard],
              norms: NormsHistory) -> list[str]:
    out = []
    for account_id, lines in chunk:
        events = tuple(e for e in history_from_lines(account_id, lines).events if e.occurred_at <= horizon)
        if not events:
            continue
        outcomes = label_outcomes(account_id, events, horizon=horizon.date())
        last_day = outcomes.last_active_day()
        until = horizon if last_day is None else min(horizon, end_of_day(last_day))
        converted = [signal_event_of(e) for e in events]
        moved = advance(StoredAccount(account_id), converted, scorecards=cards, norms=norms, until=until)
        raised = [d.occurred_at.astimezone(UTC).date() for e in moved.evaluations for d in e.decisions.raised
                  if d.action == "raised" and outcomes.active_at(d.occurred_at)]
        days = [_day(e) for e in moved.evaluations if e.point == "midnight"]
        first = events[0].occurred_at.astimezone(UTC).date()
        for churned in outcomes.churn_dates:
            ahead = churned - timedelta(days=LEAD_DAYS)
            if churned > horizon.date() or ahead < first \
                    or not outcomes.active_at(datetime(ahead.year, ahead.month, ahead.day, tzinfo=UTC)):
                continue  # the backtest's recall does not count it either
            out.append(_category(churned, first, raised, days))
    return out


def _chunks(archive: Any, size: int = 16) -> list[list[tuple[str, list[bytes]]]]:
    accounts = archive.account_lines()
    out = []
    while chunk := list(islice(accounts, size)):
        out.append(chunk)
    return out


def churner_categories(name: str, cards: Mapping[str, Scorecard], workers: int) -> Counter[str]:
    data_set = next(d for d in data_sets() if d.name == name)
    archive = read_archive([data_set.ensure()])
    assert archive.horizon is not None and archive.first is not None
    horizon, chunks = archive.horizon, _chunks(archive)
    refreshes = norm_refreshes(archive.first, horizon)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        sampled = [pool.submit(_samples, chunk, horizon, refreshes) for chunk in chunks]
        norms = norms_from_samples(s for future in sampled for s in future.result())
        futures = [pool.submit(_accounts, chunk, horizon, cards, norms) for chunk in chunks]
        return Counter(c for future in futures for c in future.result())


def _samples(chunk: Sequence[tuple[str, list[bytes]]], horizon: datetime, refreshes: Sequence[datetime]) -> list[Any]:
    out = []
    for account_id, lines in chunk:
        events = tuple(e for e in history_from_lines(account_id, lines).events if e.occurred_at <= horizon)
        out.extend(sample_account(events, refreshes))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="archetypes-s2", help="comma-separated data set names")
    p.add_argument("--usage-gate", type=float, help="usage_decline's max_usage_score in every card")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    cards = dict(default_scorecards())
    if args.usage_gate is not None:
        cards = {k: replace(c, alerts=replace(c.alerts, usage_decline_max_usage_score=args.usage_gate))
                 for k, c in cards.items()}
    names = args.only.split(",")
    counts = {name: churner_categories(name, cards, args.workers) for name in names}
    print("| churners | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for category in CATEGORIES:
        print(f"| {category} | " + " | ".join(str(counts[n][category]) for n in names) + " |")
    print("| total | " + " | ".join(str(sum(counts[n].values())) for n in names) + " |")
    write_result("alert_timing", {"usage_gate": args.usage_gate, "data_sets": {n: dict(counts[n]) for n in names}})


if __name__ == "__main__":
    main()
