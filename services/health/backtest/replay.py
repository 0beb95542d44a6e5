"""The one place where the backtest touches the health service's code: replay one account's history
through the service's own pure path and report its scores at the snapshots and the alerts it raised.

The path is the batch handler's (services/health/handlers.py): fold the new events into the signals
with `apply_events` (an event the domain cannot apply is skipped, as the handler dead-letters it),
then `evaluate`, and carry the resulting state forward as the store would. Evaluations happen at:

* every distinct event time (events sharing one instant are folded together: the service cannot
  order them either, and an aggregator's daily counts arrive as one batch);
* every UTC midnight from the first event to `until`, as the scheduler's rescoring would, so that
  silence counts even for an account that sends nothing more;
* every snapshot, which is then recorded.

Everything else in the backtest depends only on this module's outputs, so that a new evaluation path
is judged by changing this file alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from services.health.domain import (
    ALERT_KINDS,
    COMPONENTS,
    DEFAULT_SCORECARDS,
    AccountSignals,
    Scorecard,
    SignalEvent,
    apply_events,
    component_scores,
    validate_scorecard,
)
from services.health.evaluation import StoredAccount, evaluate
from shared.accounts import DATA_ERRORS
from shared.backtest.judging import RaisedAlert
from shared.events import Envelope

GRADES = ("green", "yellow", "red")
__all__ = ["ALERT_KINDS", "COMPONENTS", "GRADES", "AccountReplay", "Scorecard", "SnapshotScore",
           "default_scorecards", "replay_account", "scorecards_from_json"]


@dataclass(frozen=True, slots=True)
class SnapshotScore:
    at: datetime
    total: float
    """0-100, high = healthy."""
    grade: str
    components: Mapping[str, float | None]
    parts: Mapping[str, float | None]
    """The measures inside each component, as "component.part" (e.g. "usage.trend")."""


@dataclass(frozen=True, slots=True)
class AccountReplay:
    account_id: str
    snapshot_scores: tuple[SnapshotScore, ...]
    alerts: tuple[RaisedAlert, ...]
    """Newly raised churn-risk alerts (escalations of an open alert are not new alerts)."""
    evaluations: int
    skipped_events: int


def default_scorecards() -> Mapping[str, Scorecard]:
    return DEFAULT_SCORECARDS


def scorecards_from_json(raw: Mapping[str, Any]) -> Mapping[str, Scorecard]:
    """{segment: scorecard JSON} as `GET /v1/scorecards` shows them; segments left out keep the defaults."""
    cards = dict(DEFAULT_SCORECARDS)
    for segment, body in raw.items():
        cards[segment] = validate_scorecard({**body, "segment": segment})
    return cards


def replay_account(account_id: str, events: Sequence[Envelope], *, scorecards: Mapping[str, Scorecard],
                   snapshots: Sequence[datetime], until: datetime) -> AccountReplay:
    """`events` in event-time order; events after `until` are left out, and snapshots before the first
    event or after `until` are not scored."""
    events = [e for e in events if e.occurred_at <= until]
    if not events:
        return AccountReplay(account_id, (), (), 0, 0)
    by_time: dict[datetime, list[Envelope]] = {}
    for e in events:
        by_time.setdefault(e.occurred_at, []).append(e)
    first = events[0].occurred_at
    wanted = {s for s in snapshots if first <= s <= until}
    stops = sorted(set(by_time) | wanted | set(_midnights(first, until)))

    account = StoredAccount(account_id)
    scores: list[SnapshotScore] = []
    alerts: list[RaisedAlert] = []
    skipped = 0
    for at in stops:
        arriving = by_time.get(at)
        signals = account.signals
        if arriving:
            signals, rejected = _fold(signals, arriving)
            skipped += rejected
        evaluation = evaluate(account, signals=signals, scorecards=scorecards, as_of=at,
                              cause="event" if arriving else "schedule", last_event_at=at if arriving else None)
        account = StoredAccount(account_id, evaluation.signals, evaluation.score, evaluation.alert_state,
                                evaluation.recent_scores, evaluation.last_event_at)
        alerts.extend(RaisedAlert(d.kind, d.occurred_at, d.severity)
                      for d in evaluation.decisions.raised if d.action == "raised")
        if at in wanted:
            s = evaluation.score
            parts = {f"{c.name}.{p.name}": p.score for c in s.components.values() for p in c.parts}
            scores.append(SnapshotScore(at, s.total, s.grade, component_scores(s), parts))
    return AccountReplay(account_id, tuple(scores), tuple(alerts), len(stops), skipped)


def _fold(signals: AccountSignals, events: Sequence[Envelope]) -> tuple[AccountSignals, int]:
    converted = [SignalEvent(e.event_id, e.type, e.occurred_at, e.data.model_dump()) for e in events]
    try:
        return apply_events(signals, converted), 0
    except DATA_ERRORS:
        pass
    rejected = 0
    for event in converted:
        try:
            signals = apply_events(signals, [event])
        except DATA_ERRORS:
            rejected += 1
    return signals, rejected


def _midnights(first: datetime, until: datetime) -> list[datetime]:
    day = first.astimezone(UTC).date() + timedelta(days=1)
    out = []
    while (midnight := datetime.combine(day, time(0), tzinfo=UTC)) <= until:
        out.append(midnight)
        day += timedelta(days=1)
    return out
