"""The expansion backtest over one archive: outcomes from the contract events, triggers from the
replay, baselines at month ends, all judged by `judge` in the same run.

Accounts are replayed in worker processes (`workers`); every figure is a function of the archive
alone, the same whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, timedelta
from typing import Any

from services.expansion.backtest.baselines import KINDS as BASELINE_KINDS
from services.expansion.backtest.baselines import MonthEnd, baseline_triggers
from services.expansion.backtest.judge import WINDOW_DAYS, RaisedTrigger, Upgrade, base_rate, judge
from services.expansion.backtest.replay import (
    GrowthRecord,
    growth_by_day,
    norms_by_day,
    replay_account,
    signal_events,
)
from services.expansion.domain import Catalogue, Thresholds
from shared.backtest.activity import activity_at, usage_days
from shared.backtest.history import Archive, history_from_lines
from shared.backtest.outcomes import label_outcomes
from shared.backtest.snapshots import month_ends
from shared.days import day_number

KINDS = ("seat_limit", "plan_limit", "usage_growth", "usage_level", "premium_feature_use", "high_satisfaction",
         "whitespace")


def backtest_archive(archive: Archive, *, catalogue: Catalogue, thresholds: Thresholds, cohorts: bool = True,
                     workers: int = 1) -> dict[str, Any]:
    assert archive.horizon is not None, "the archive holds no valid event"
    horizon = archive.horizon.astimezone(UTC).date()
    accounts = list(archive.account_lines())
    growth: list[GrowthRecord] = []
    if cohorts:
        with _pool(workers, (thresholds, day_number(archive.horizon))) as run:
            for records in run(_growth_job, [lines for _, lines in accounts]):
                growth.extend(records)
    with _pool(workers, (catalogue, thresholds, norms_by_day(growth), horizon)) as run:
        results = list(run(_account_job, accounts))
    triggers = [t for raised, _, _, _ in results for t in raised]
    upgrades = [u for _, found, _, _ in results for u in found]
    starts = {account_id: start for (account_id, _), (_, _, start, _) in zip(accounts, results, strict=True)}
    points = [p for _, _, _, month in results for p in month]
    baseline, model = baseline_triggers(points)
    # How often an account manager hears from the rules: from each account's first event to the horizon.
    account_years = sum((horizon - start).days for start in starts.values()) / 365
    return {
        "horizon": horizon.isoformat(), "accounts": len(accounts), "window_days": WINDOW_DAYS,
        "cohorts": cohorts, "upgrades": len(upgrades), "triggers": len(triggers),
        "account_years": round(account_years, 1),
        "triggers_per_account_year": round(len(triggers) / account_years, 2) if account_years else None,
        "rules": judge(triggers, upgrades, history_start=starts, horizon=horizon, kinds=KINDS),
        "baselines": judge(baseline, upgrades, history_start=starts, horizon=horizon, kinds=BASELINE_KINDS),
        "baseline_model": model,
        "base_rate": base_rate(((p.account_id, p.at.date()) for p in points), upgrades, horizon=horizon),
    }


_CONTEXT: list[Any] = []
"""What every job of a pool needs (catalogue, thresholds, norms ...): sent to each worker once."""

Runner = Callable[[Callable[[Any], Any], Sequence[Any]], Iterator[Any]]


def _set_context(context: tuple[Any, ...]) -> None:
    _CONTEXT[:] = context


@contextmanager
def _pool(workers: int, context: tuple[Any, ...]) -> Iterator[Runner]:
    if workers <= 1:
        _set_context(context)
        yield lambda fn, jobs: map(fn, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_set_context, initargs=(context,)) as pool:
        yield lambda fn, jobs: pool.map(fn, jobs, chunksize=max(1, len(jobs) // (8 * workers)))


def _growth_job(lines: list[bytes]) -> list[GrowthRecord]:
    thresholds, last_day = _CONTEXT
    history = history_from_lines("", lines)
    return list(growth_by_day(signal_events(history.events), thresholds=thresholds, last_day=last_day))


def _account_job(job: tuple[str, list[bytes]]) -> tuple[list[RaisedTrigger], list[Upgrade], date, list[MonthEnd]]:
    account_id, lines = job
    catalogue, thresholds, norms, horizon = _CONTEXT
    events = history_from_lines(account_id, lines).events
    outcomes = label_outcomes(account_id, events, horizon=horizon)
    upgrades = [Upgrade(account_id, c.on) for c in outcomes.changes if c.kind == "expansion"]
    raised = replay_account(account_id, signal_events(events), catalogue=catalogue, thresholds=thresholds,
                            norms=norms)
    start = events[0].occurred_at.astimezone(UTC).date()
    usage = usage_days(events)
    months = []
    for at in month_ends(start, horizon):
        if outcomes.active_at(at):
            upgraded = any(at.date() < u.on <= at.date() + timedelta(days=WINDOW_DAYS) for u in upgrades)
            months.append(MonthEnd(account_id, at, activity_at(usage, at, customer_since=outcomes.first_start),
                                   upgraded))
    return raised, upgrades, start, months
