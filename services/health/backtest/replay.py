"""The one place where the backtest touches the health service's code: replay one account's history
through the service's own pure path and report its scores at the snapshots and the alerts it raised.

The path is the service's: `domain.advance`, which folds each event and evaluates the account at
every point the service would (each event, each UTC midnight between points), with the cohort norms
a live run would have had in force. The service rebuilds its norms on a schedule from every account's
latest measures; the backtest does the same at each month end, in two passes: first every account's
norm sample at each month end (it depends on the events alone), then the replay with those norms.

Everything else in the backtest depends only on this module's outputs, so that a new evaluation path
is judged by changing this file alone.

Alert-rule variants (for calibration) ride on the same pass: the score never reads the alert rules, so
each variant's alerts are its own `evaluate_alerts` over the very evaluations the cards in force made,
with its own alert state: what `advance` with the variant's cards would raise, for a few per cent of a
replay each instead of a whole replay (tests/unit/backtest/test_alert_variants.py holds them equal).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from services.health.domain import (
    ALERT_KINDS,
    COMPONENTS,
    DEFAULT_SCORECARDS,
    NO_NORMS,
    AlertDecisions,
    AlertState,
    Evaluation,
    NormsHistory,
    Scorecard,
    SignalEvent,
    StoredAccount,
    advance,
    apply_events,
    build_norms,
    component_scores,
    contract_summary,
    evaluate_alerts,
    norm_sample,
    norms_effective_from,
    scorecard_for,
    validate_scorecard,
)
from services.health.domain.signals import EMPTY_SIGNALS
from services.health.domain.state import ScorePoint
from shared.backtest.judging import RaisedAlert
from shared.days import day_number
from shared.events import Envelope
from shared.signal_events import signal_event_of

GRADES = ("green", "yellow", "red")
__all__ = ["ALERT_KINDS", "COMPONENTS", "GRADES", "AccountReplay", "NormSample", "Scorecard", "SnapshotScore",
           "default_scorecards", "norms_from_samples", "replay_account", "sample_account", "scorecards_from_json"]


@dataclass(frozen=True, slots=True)
class SnapshotScore:
    at: datetime
    total: float
    """0-100, high = healthy."""
    grade: str
    components: Mapping[str, float | None]
    parts: Mapping[str, float | None]
    """`component.part` -> 0-100, so the backtest can judge each measure on its own."""


@dataclass(frozen=True, slots=True)
class AccountReplay:
    account_id: str
    snapshot_scores: tuple[SnapshotScore, ...]
    alerts: tuple[RaisedAlert, ...]
    """Newly raised churn-risk alerts (escalations of an open alert are not new alerts)."""
    evaluations: int
    skipped_events: int
    variant_alerts: tuple[tuple[RaisedAlert, ...], ...] = ()
    """Per alert-rule variant asked for, in order: the alerts it would have raised instead."""


@dataclass(frozen=True, slots=True)
class NormSample:
    at: datetime
    cohort: str | None
    measures: Mapping[str, float]


def default_scorecards() -> Mapping[str, Scorecard]:
    return DEFAULT_SCORECARDS


def scorecards_from_json(raw: Mapping[str, Any]) -> Mapping[str, Scorecard]:
    """{segment: scorecard JSON} as `GET /v1/scorecards` shows them; segments left out keep the defaults."""
    cards = dict(DEFAULT_SCORECARDS)
    for segment, body in raw.items():
        cards[segment] = validate_scorecard({**body, "segment": segment})
    return cards


def _signal_events(events: Sequence[Envelope]) -> list[SignalEvent]:
    return [signal_event_of(e) for e in events]


def sample_account(events: Sequence[Envelope], refreshes: Sequence[datetime]) -> list[NormSample]:
    """What the account adds to its cohort's norms at each refresh: its measures as of then."""
    signals, out, position = EMPTY_SIGNALS, [], 0
    converted = _signal_events(events)
    for at in refreshes:
        while position < len(converted) and converted[position].occurred_at <= at:
            with contextlib.suppress(ValueError):  # the service dead-letters it; the norms never see it
                signals = apply_events(signals, [converted[position]])
            position += 1
        if signals.latest_day is None:
            continue
        sample = norm_sample(signals, day_number(at))
        if sample:
            out.append(NormSample(at, contract_summary(signals, at.date()).segment, sample))
    return out


def norms_from_samples(samples: Iterable[NormSample]) -> NormsHistory:
    """One norm version per refresh time, in force from the next midnight, as the service's scheduler
    builds them (never for points that may already have been scored)."""
    by_time: dict[datetime, list[NormSample]] = {}
    for sample in samples:
        by_time.setdefault(sample.at, []).append(sample)
    versions = [build_norms(((s.cohort, s.measures) for s in by_time[at]), version=n,
                              effective_from=norms_effective_from(at))
                for n, at in enumerate(sorted(by_time), start=1)]
    return NormsHistory(tuple(versions))


def replay_account(account_id: str, events: Sequence[Envelope], *, scorecards: Mapping[str, Scorecard],
                   snapshots: Sequence[datetime], until: datetime, norms: NormsHistory = NO_NORMS,
                   alert_variants: Sequence[Mapping[str, Scorecard]] = ()) -> AccountReplay:
    """`events` in event-time order (a live feed's order); snapshots before the first event or after
    `until` are not scored. A snapshot falls between points: the account is advanced to it (its
    midnights), and its score there is what a read of its health at that moment shows.

    `alert_variants`: other cards that differ from `scorecards` in their alert rules only; the alerts
    each would have raised come back in `variant_alerts`."""
    if not events:
        return AccountReplay(account_id, (), (), 0, 0, tuple(() for _ in alert_variants))
    variants = [_Variant(cards) for cards in alert_variants]
    converted = _signal_events(events)
    first = events[0].occurred_at
    wanted = sorted(s for s in snapshots if first <= s <= until)
    account = StoredAccount(account_id)
    scores: list[SnapshotScore] = []
    alerts = _AlertLog()
    evaluations = skipped = position = 0
    for at in sorted({*wanted, until}):
        batch = []
        while position < len(converted) and converted[position].occurred_at <= at:
            batch.append(converted[position])
            position += 1
        moved = advance(account, batch, scorecards=scorecards, norms=norms, until=at)
        for variant in variants:
            variant.follow(account_id, account.recent_scores, moved.evaluations)
        account = moved.account
        evaluations += len(moved.evaluations)
        skipped += len(moved.rejected)
        for e in moved.evaluations:
            alerts.record(e.decisions)
        if at in wanted and account.score is not None:  # the day's score: what a read at `at` shows
            s = account.score
            parts = {f"{c.name}.{p.name}": p.score for c in s.components.values() for p in c.parts}
            scores.append(SnapshotScore(at, s.total, s.grade, component_scores(s), parts))
    return AccountReplay(account_id, tuple(scores), tuple(alerts.raised), evaluations, skipped,
                         tuple(tuple(v.alerts.raised) for v in variants))


class _AlertLog:
    """The alerts newly raised (escalations are not new alerts), each given its resolve time when one comes."""

    def __init__(self) -> None:
        self.raised: list[RaisedAlert] = []
        self._open: dict[str, int] = {}
        """alert id -> its place in `raised`, while open."""

    def record(self, decisions: AlertDecisions) -> None:
        for d in decisions.raised:
            if d.action == "raised":
                self._open[d.alert_id] = len(self.raised)
                self.raised.append(RaisedAlert(d.kind, d.occurred_at, d.severity))
        for d in decisions.resolved:
            if (index := self._open.pop(d.alert_id, None)) is not None:
                self.raised[index] = replace(self.raised[index], resolved_at=d.occurred_at)


class _Variant:
    """One alert-rule variant's alert state, advanced over the evaluations the cards in force made
    (the same arguments `domain.evaluate` passes to `evaluate_alerts`, the variant's card and state)."""

    def __init__(self, cards: Mapping[str, Scorecard]) -> None:
        self.cards = cards
        self.state = AlertState()
        self.alerts = _AlertLog()

    def follow(self, account_id: str, history: tuple[ScorePoint, ...], evaluations: Sequence[Evaluation]) -> None:
        for e in evaluations:
            as_of = e.score.as_of
            decisions = evaluate_alerts(
                account_id=account_id, previous=e.previous, current=e.score, score_history=history,
                open_alerts=self.state.open, signals=e.signals, scorecard=scorecard_for(e.contract.segment, self.cards),
                as_of=as_of, last_resolved=self.state.last_resolved, episodes=self.state.episodes,
                onsets=self.state.onsets, recent_raises=self.state.recent_raises,
                contract=e.contract if as_of.utcoffset() == timedelta(0) else None, change=e.reasons)
            self.state = self.state.after(decisions, as_of=as_of)
            self.alerts.record(decisions)
            history = e.recent_scores
