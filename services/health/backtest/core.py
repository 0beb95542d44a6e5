"""The health backtest, pure: account histories in, every figure out (a JSON-ready dict).

Per account: outcomes from its contract events, the snapshots that can be judged, the replay through
the health service's own code (`replay.py`, the only module that knows the service), the plain
30-day activity at each snapshot for the baseline, and its alerts judged against what followed.
Then the figures over all accounts: ranking (score, baseline and "events in the last 30 days" on the
same snapshots), grades, components, segments, alerts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from services.health.backtest.alert_variants import AccountAlertBook
from services.health.backtest.replay import (
    ALERT_KINDS,
    COMPONENTS,
    GRADES,
    Scorecard,
    norms_from_samples,
    replay_account,
    sample_account,
)
from services.health.domain import NO_NORMS, NormsHistory
from shared.backtest.activity import activity_at, usage_days
from shared.backtest.history import AccountHistory
from shared.backtest.judging import AccountAlerts, alert_summary, judge_account
from shared.backtest.outcomes import end_of_day, label_outcomes
from shared.backtest.ranking import ScoredSnapshot, ranking_report
from shared.backtest.snapshots import OUTCOME_DAYS, SnapshotKind, judged_snapshots, snapshot_times
from shared.events import Envelope


@dataclass(frozen=True)
class BacktestSettings:
    snapshots: tuple[SnapshotKind, ...] = ("month-end",)
    folds: int = 5
    seed: int = 0
    scorecards: str = "default"
    """How the scorecards were chosen, for the report (the cards themselves are passed in)."""


@dataclass(frozen=True)
class AccountResult:
    """One account's part of the backtest; plain data, so accounts can be replayed in other processes."""

    rows: tuple[ScoredSnapshot, ...]
    alerts: AccountAlerts
    has_contract: bool
    candidate_snapshots: int
    unscored_snapshots: int
    evaluations: int
    skipped_events: int
    alert_book: AccountAlertBook | None = None
    """The alerts each alert-rule variant would have raised (calibration asks for them; None otherwise)."""


def run_backtest(histories: Iterable[AccountHistory], *, horizon: datetime, scorecards: Mapping[str, Scorecard],
                 settings: BacktestSettings = BacktestSettings()) -> dict[str, Any]:
    books = [h for h in histories if any(e.occurred_at <= horizon for e in h.events)]
    norms = book_norms([h.events for h in books], horizon)
    results = [r for h in books
               if (r := backtest_account(h, horizon=horizon, scorecards=scorecards, settings=settings, norms=norms))]
    return summarise(results, horizon=horizon, settings=settings)


def norm_refreshes(first: datetime, horizon: datetime) -> list[datetime]:
    """When the replay rebuilds the cohort norms: every UTC midnight, as the service's scheduler does
    (each version effective from its midnight, built from the accounts as they were then)."""
    start = datetime.combine(first.date() + timedelta(days=1), time(0), tzinfo=UTC)
    return [start + timedelta(days=n) for n in range((horizon - start).days + 1)]


def book_norms(books: Iterable[Sequence[Envelope]], horizon: datetime) -> NormsHistory:
    """The norm versions a live run would have built, from every account's samples (first pass)."""
    accounts = [tuple(e for e in events if e.occurred_at <= horizon) for events in books]
    accounts = [events for events in accounts if events]
    if not accounts:
        return NO_NORMS
    refreshes = norm_refreshes(min(events[0].occurred_at for events in accounts), horizon)
    return norms_from_samples(s for events in accounts for s in sample_account(events, refreshes))


def summarise(results: Sequence[AccountResult], *, horizon: datetime, settings: BacktestSettings) -> dict[str, Any]:
    """Every figure over all accounts (results in account order, so the figures never depend on
    how the accounts were spread over processes)."""
    rows = [row for r in results for row in r.rows]
    return {
        "settings": {"snapshots": list(settings.snapshots), "outcome_days": OUTCOME_DAYS, "folds": settings.folds,
                     "seed": settings.seed, "scorecards": settings.scorecards, "horizon": horizon.isoformat()},
        "accounts": {"total": len(results), "without_contract": sum(not r.has_contract for r in results)},
        "replay": {"evaluations": sum(r.evaluations for r in results),
                   "skipped_events": sum(r.skipped_events for r in results),
                   "candidate_snapshots": sum(r.candidate_snapshots for r in results),
                   "unscored_snapshots": sum(r.unscored_snapshots for r in results)},
        "ranking": ranking_report(rows, grades=GRADES, components=COMPONENTS, folds=settings.folds,
                                  seed=settings.seed),
        "alerts": alert_summary([r.alerts for r in results], ALERT_KINDS),
    }


def backtest_account(history: AccountHistory, *, horizon: datetime, scorecards: Mapping[str, Scorecard],
                     settings: BacktestSettings, norms: NormsHistory = NO_NORMS,
                     alert_variants: Sequence[Mapping[str, Scorecard]] = ()) -> AccountResult | None:
    """One account's rows and judged alerts; None when it has no event up to the horizon. Events after
    the horizon are not read at all: the backtest knows what was known at the horizon, no more.
    `alert_variants`: cards differing in their alert rules only, whose alerts go in `alert_book`."""
    events = tuple(e for e in history.events if e.occurred_at <= horizon)
    if not events:
        return None
    first = events[0].occurred_at.date()
    outcomes = label_outcomes(history.account_id, events, horizon=horizon.date())
    candidates = snapshot_times(settings.snapshots, outcomes, first=first, horizon=horizon.date())
    snapshots = judged_snapshots(outcomes, candidates, horizon=horizon.date())
    last_day = outcomes.last_active_day()
    until = horizon if last_day is None else min(horizon, end_of_day(last_day))
    replay = replay_account(history.account_id, events, scorecards=scorecards,
                            snapshots=[s.at for s in snapshots], until=until, norms=norms,
                            alert_variants=alert_variants)
    usage = usage_days(events)
    scores = {s.at: s for s in replay.snapshot_scores}
    rows = []
    for snapshot in snapshots:
        score = scores.get(snapshot.at)
        if score is None:  # a customer before its first event: nothing to score it on
            continue
        rows.append(ScoredSnapshot(
            snapshot=snapshot, risk=100.0 - score.total, grade=score.grade,
            component_risks={name: None if value is None else 100.0 - value
                             for name, value in {**score.components, **score.parts}.items()},
            activity=activity_at(usage, snapshot.at, customer_since=outcomes.first_start),
        ))
    return AccountResult(
        rows=tuple(rows),
        alerts=judge_account(replay.alerts, outcomes, horizon=horizon.date(), observed_from=first),
        has_contract=bool(outcomes.coverage), candidate_snapshots=len(candidates),
        unscored_snapshots=len(snapshots) - len(rows), evaluations=replay.evaluations,
        skipped_events=replay.skipped_events,
        alert_book=AccountAlertBook(history.account_id, outcomes.segment, outcomes, first, replay.variant_alerts)
        if alert_variants else None,
    )
