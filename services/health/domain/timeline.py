"""An account's evaluation points, in event time: what turns a stream of events into scores,
history and alerts that depend on the events alone, never on how they were batched.

The points of an account are:

* each event, in the order the account's events are consumed, evaluated at the event's time (or
  at the account's latest point, for a late event);
* each UTC midnight between two points: nothing happened, yet the windows moved, so silence counts
  the same way whether the next event arrives, a replay passes over the gap, or the scheduler
  brings the account up to today (`advance` with no events and `until`).

Because a point's result depends only on the state before it and on what happened at it, a batch
of 1,000 events gives exactly the points (and so the history, grades and alerts) of 1,000 batches
of one, and a crash, a redelivery or a replay gives them again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.health.domain.evaluation import Cause, Evaluation, evaluate
from services.health.domain.fold import FOLD_REJECTIONS, apply_events
from services.health.domain.norms import NO_NORMS, NormsHistory
from services.health.domain.scorecard import Scorecard
from services.health.domain.signals import HORIZON_DAYS, AccountSignals
from services.health.domain.state import StoredAccount
from shared.days import day_number, start_of_day
from shared.events import UsageRecorded
from shared.signal_events import SignalEvent

MAX_SILENT_DAYS_EVALUATED = 400
"""A gap longer than this is evaluated at its last midnights only: every window of the score is
shorter (the longest, survey relevance, is 365 days), so the days before cannot differ."""


@dataclass(frozen=True, slots=True)
class Rejected:
    event: SignalEvent
    reason: str


@dataclass(frozen=True, slots=True)
class Advance:
    account: StoredAccount
    """The account after its last point."""
    evaluations: tuple[Evaluation, ...]
    """One per point, in order."""
    rejected: tuple[Rejected, ...] = ()
    """Events the fold could not apply (the event's data is at fault); nothing else changed for them."""
    folded: int = 0
    """Events folded into the signals (with a point of their own or not)."""

    @property
    def signals_changed(self) -> bool:
        return self.folded > 0


def midnights(after: datetime | None, until: datetime) -> list[datetime]:
    """The UTC midnights in (after, until], oldest first (none before an account's first point)."""
    if after is None or until <= after:
        return []
    first, last = day_number(after) + 1, day_number(until)
    first = max(first, last - MAX_SILENT_DAYS_EVALUATED + 1)
    return [start_of_day(day) for day in range(first, last + 1)]


def advance(
    account: StoredAccount,
    events: Sequence[SignalEvent],
    *,
    scorecards: Mapping[str, Scorecard],
    norms: NormsHistory = NO_NORMS,
    until: datetime | None = None,
) -> Advance:
    """Evaluate `account` at every point its new `events` (in consumption order) make, then at every
    midnight up to `until` (the scheduler's "today"; None: stop at the last event)."""
    evaluations: list[Evaluation] = []
    rejected: list[Rejected] = []

    def point(as_of: datetime, cause: Cause, signals: AccountSignals, event: SignalEvent | None = None) -> None:
        nonlocal account
        if account.last_point is not None and account.last_point > as_of:
            as_of = account.last_point  # a late event is scored at the latest point
        evaluation = evaluate(account, signals=signals, scorecards=scorecards, as_of=as_of, cause=cause,
                              last_event_at=event.occurred_at if event else None,
                              point=event.event_id if event else "midnight", norms=norms.at(as_of))
        evaluations.append(evaluation)
        account = evaluation.stored()

    folded = 0
    for event in events:
        for midnight in midnights(account.last_point, event.occurred_at):
            point(midnight, "schedule", account.signals)
        try:
            signals = apply_events(account.signals, [event])
        except FOLD_REJECTIONS as exc:
            rejected.append(Rejected(event, f"{event.event_type} cannot be applied: {exc}"))
            continue
        folded += 1
        if _scores_nothing(account, event):
            latest = max(t for t in (account.last_event_at, event.occurred_at) if t is not None)
            account = replace(account, signals=signals, last_event_at=latest)
            continue
        point(event.occurred_at, "event", signals, event)
    if until is not None:
        for midnight in midnights(account.last_point, until):
            point(midnight, "schedule", account.signals)
    return Advance(account, tuple(evaluations), tuple(rejected), folded)


def _scores_nothing(account: StoredAccount, event: SignalEvent) -> bool:
    """Whether the event changes nothing the score reads today, so it is folded without a point of its
    own: more usage on a day the account was already active, of a feature it already used. Usage is
    measured on complete days, so today's counts first count at the next midnight (which is a point);
    this is what keeps per-event evaluation affordable for telemetry, and it depends on the event
    alone, so it is the same however events are batched."""
    s, last = account.signals, account.last_point
    usage = event.data
    if not isinstance(usage, UsageRecorded) or last is None or s.first_usage_day is None:
        return False
    day = day_number(event.occurred_at)
    if day != day_number(last) or not s.event_days.get(day):
        return False
    known = s.feature_last_used.get(usage.feature)
    return known is not None and known.day >= day - (HORIZON_DAYS - 1)


def today_midnight(now: datetime, *, grace: timedelta = timedelta(0)) -> datetime:
    """The latest midnight the scheduler may evaluate at: a midnight is evaluated only once `grace`
    has passed since it, so events up to `grace` late still land before it."""
    return start_of_day(day_number(now - grace))


def health_now(
    account: StoredAccount, *, scorecards: Mapping[str, Scorecard], norms: NormsHistory = NO_NORMS, now: datetime
) -> StoredAccount:
    """The account as a read at `now` sees it: every midnight since its latest point evaluated, as the
    scheduler will store them. Nothing is written: a read never changes what the service emits."""
    return advance(account, [], scorecards=scorecards, norms=norms, until=now).account
