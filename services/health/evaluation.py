"""One account's evaluation: score at `as_of`, explain the change, decide alerts, and the new state.

Pure, like the domain it wraps: the batch handler calls `evaluate` after folding new events into the
signals, the scheduler and a scorecard change call it with the stored signals. One code path, so an
event, a schedule tick and a config change give the same kind of result (a score, a history entry,
alert decisions, output events), differing only in `cause`.

`as_of` never goes backwards: an account is scored at the later of the requested time and the time
of its stored score. A late event (older than the account's current score) is folded in and scored
at the account's current `as_of`; replaying the same batch on the same state gives the same result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from services.health.domain import (
    EMPTY_SIGNALS,
    AccountSignals,
    AlertDecisions,
    ContractSummary,
    HealthScore,
    OpenAlert,
    Reason,
    Scorecard,
    component_scores,
    contract_summary,
    evaluate_alerts,
    explain_change,
    score_account,
    scorecard_for,
)

Cause = Literal["event", "schedule", "scorecard"]
ScorePoint = tuple[datetime, float]


@dataclass(frozen=True, slots=True)
class AlertState:
    """What the alert rules remember between evaluations: the open alert of each kind, and when
    each kind last resolved (for the cool-down). Kept on the account row, so a batch loads it with
    the account in one query; the `alerts` table is the durable, queryable record."""

    open: Mapping[str, OpenAlert] = field(default_factory=dict)
    last_resolved: Mapping[str, datetime] = field(default_factory=dict)

    def after(self, decisions: AlertDecisions) -> AlertState:
        still_open = dict(self.open)
        resolved_at = dict(self.last_resolved)
        for decision in decisions.raised:
            opened = decision.open_alert()
            if opened is not None:
                still_open[decision.kind] = opened
        for decision in decisions.resolved:
            still_open.pop(decision.kind, None)
            resolved_at[decision.kind] = decision.occurred_at
        return AlertState(still_open, resolved_at)


def alert_state_to_json(state: AlertState) -> dict[str, Any]:
    return {
        "open": {
            kind: {"alert_id": a.alert_id, "severity": a.severity, "episode_start": a.episode_start.isoformat(),
                   "raised_at": a.raised_at.isoformat(), "magnitude": a.magnitude, "baseline": a.baseline}
            for kind, a in state.open.items()
        },
        "last_resolved": {kind: at.isoformat() for kind, at in state.last_resolved.items()},
    }


def alert_state_from_json(raw: Mapping[str, Any]) -> AlertState:
    return AlertState(
        open={
            kind: OpenAlert(alert_id=a["alert_id"], kind=kind, severity=a["severity"],
                            episode_start=_moment(a["episode_start"]), raised_at=_moment(a["raised_at"]),
                            magnitude=float(a["magnitude"]),
                            baseline=None if a["baseline"] is None else float(a["baseline"]))
            for kind, a in raw.get("open", {}).items()
        },
        last_resolved={kind: _moment(at) for kind, at in raw.get("last_resolved", {}).items()},
    )


def recent_scores_to_json(points: tuple[ScorePoint, ...]) -> list[list[Any]]:
    return [[at.isoformat(), total] for at, total in points]


def recent_scores_from_json(raw: list[list[Any]]) -> tuple[ScorePoint, ...]:
    return tuple((_moment(at), float(total)) for at, total in raw)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class StoredAccount:
    """An account as the store keeps it between evaluations (a new account is all defaults)."""

    account_id: str
    signals: AccountSignals = EMPTY_SIGNALS
    score: HealthScore | None = None
    alert_state: AlertState = AlertState()
    recent_scores: tuple[ScorePoint, ...] = ()
    """Score points of the last `score_drop_days`, at most one a day (the day's highest): what the
    score-drop rule needs, without reading the history table in the hot path."""
    last_event_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    account_id: str
    cause: Cause
    signals: AccountSignals
    previous: HealthScore | None
    score: HealthScore
    reasons: tuple[Reason, ...]
    """Why the score moved from `previous` (its main drivers for a first score)."""
    decisions: AlertDecisions
    alert_state: AlertState
    recent_scores: tuple[ScorePoint, ...]
    last_event_at: datetime | None
    contract: ContractSummary

    @property
    def changed(self) -> bool:
        """A history entry and a `health.changed` record are due: a first score, a new total or grade,
        or another scorecard (so a config change is visible in the history even when it moves nothing)."""
        p, s = self.previous, self.score
        return p is None or (p.total, p.grade, p.segment, p.scorecard_version) != (
            s.total, s.grade, s.segment, s.scorecard_version)

    def component_deltas(self) -> dict[str, float | None]:
        before = component_scores(self.previous) if self.previous else {}
        deltas: dict[str, float | None] = {}
        for name, after in component_scores(self.score).items():
            was = before.get(name)
            deltas[name] = None if after is None or was is None else round(after - was, 1)
        return deltas


def evaluate(
    account: StoredAccount,
    *,
    signals: AccountSignals,
    scorecards: Mapping[str, Scorecard],
    as_of: datetime,
    cause: Cause,
    last_event_at: datetime | None = None,
) -> Evaluation:
    """Score `signals` for `account` at `as_of` (or the stored score's time, if later)."""
    previous = account.score
    if previous is not None and previous.as_of > as_of:
        as_of = previous.as_of
    contract = contract_summary(signals, as_of.date())
    # The domain reads contracts on as_of's UTC day: the same summary whenever as_of is in UTC (always,
    # in practice); otherwise (None) the domain derives its own.
    utc_contract = contract if as_of.utcoffset() == timedelta(0) else None
    card = scorecard_for(contract.segment, scorecards)
    score = score_account(signals, card, as_of=as_of, previous_grade=previous.grade if previous else None,
                          contract=utc_contract)
    reasons = tuple(explain_change(previous, score))
    decisions = evaluate_alerts(
        account_id=account.account_id,
        previous=previous,
        current=score,
        score_history=account.recent_scores,
        open_alerts=account.alert_state.open,
        signals=signals,
        scorecard=card,
        as_of=as_of,
        last_resolved=account.alert_state.last_resolved,
        contract=utc_contract,
        change=reasons,
    )
    latest = max((t for t in (account.last_event_at, last_event_at) if t is not None), default=None)
    return Evaluation(
        account_id=account.account_id,
        cause=cause,
        signals=signals,
        previous=previous,
        score=score,
        reasons=reasons,
        decisions=decisions,
        alert_state=account.alert_state.after(decisions),
        recent_scores=keep_recent(account.recent_scores, (as_of, score.total), days=card.alerts.score_drop_days),
        last_event_at=latest,
        contract=contract,
    )


def keep_recent(points: tuple[ScorePoint, ...], point: ScorePoint, *, days: int) -> tuple[ScorePoint, ...]:
    """`points` plus `point`, within `days` before it, thinned to the highest point of each UTC day
    (the score-drop rule looks for the peak in its window, so the day's highest is what matters)."""
    since = point[0] - timedelta(days=max(1, days))
    best: dict[object, ScorePoint] = {}
    for at, total in (*points, point):
        if at < since:
            continue
        day = at.astimezone(UTC).date()
        kept = best.get(day)
        if kept is None or total > kept[1] or (total == kept[1] and at > kept[0]):
            best[day] = (at, total)
    return tuple(sorted(best.values()))
