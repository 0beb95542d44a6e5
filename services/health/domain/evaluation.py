"""One evaluation point of one account: score at `as_of`, explain the change, decide alerts, and
the account's state after it.

Every output of the health service comes from here: the batch handler, the scheduler (silence), a
scorecard change and the backtest all call `evaluate` through `timeline.advance` (or directly, for
a rescore at the current point), so an event, a midnight and a config change give the same kind of
result, differing only in `cause`.

`as_of` never goes backwards: an account is evaluated at the later of the requested time and its
latest point. A late event (older than the latest point) is folded in and evaluated at that point.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from services.health.domain.alert_decisions import AlertDecisions
from services.health.domain.alerts import evaluate_alerts
from services.health.domain.contracts import ContractSummary, contract_summary
from services.health.domain.explain import explain_change
from services.health.domain.norms import EMPTY_NORMS, CohortNorms
from services.health.domain.scorecard import Scorecard, scorecard_for
from services.health.domain.scoring import HealthScore, component_scores, score_account
from services.health.domain.signals import AccountSignals
from services.health.domain.state import AlertState, ScorePoint, StoredAccount
from shared.reasons import Reason

Cause = Literal["event", "schedule", "scorecard"]
"""What made the evaluation point: an event, a day boundary passing (silence counts), a config change."""


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
    point: str = ""
    """What made this point, unique within the account's points at one time: the event id for an
    event, `midnight` for a day boundary, `scorecard` for a config change."""

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

    def stored(self) -> StoredAccount:
        """The account's state after this point: what the next point starts from."""
        return StoredAccount(self.account_id, self.signals, self.score, self.alert_state, self.recent_scores,
                             self.last_event_at)


def evaluate(
    account: StoredAccount,
    *,
    signals: AccountSignals,
    scorecards: Mapping[str, Scorecard],
    as_of: datetime,
    cause: Cause,
    last_event_at: datetime | None = None,
    point: str = "",
    norms: CohortNorms = EMPTY_NORMS,
) -> Evaluation:
    """Score `signals` for `account` at `as_of` (or at its latest point, if later), with the cohort
    norms in force."""
    previous = account.score
    if previous is not None and previous.as_of > as_of:
        as_of = previous.as_of
    contract = contract_summary(signals, as_of.date())
    # The domain reads contracts on as_of's UTC day: the same summary whenever as_of is in UTC (always,
    # in practice); otherwise (None) the domain derives its own.
    utc_contract = contract if as_of.utcoffset() == timedelta(0) else None
    card = scorecard_for(contract.segment, scorecards)
    score = score_account(signals, card, as_of=as_of, previous_grade=previous.grade if previous else None,
                          contract=utc_contract, norms=norms)
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
        episodes=account.alert_state.episodes,
        onsets=account.alert_state.onsets,
        recent_raises=account.alert_state.recent_raises,
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
        alert_state=account.alert_state.after(decisions, as_of=as_of),
        recent_scores=keep_recent(account.recent_scores, (as_of, score.total), days=card.alerts.score_drop_days),
        last_event_at=latest,
        contract=contract,
        point=point or cause,
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
