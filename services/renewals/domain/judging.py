"""When an account's renewals are judged: at points defined in event time, never by batch.

A point is an event (judged at its time, after it is applied) or a midnight (UTC) at which the
calendar alone changes what a judgement can say: a renewal's window opens, a reminder window or the
closing days begin, its date passes, or a health record becomes the trend's reference. Between
those midnights a judgement is the same whatever the day, so judging at them and at every midnight
give the same alerts (a unit test holds this), and an account silent for a year costs a handful of
judgements, not 365.

The batch handler judges the midnights since an account's last point before applying its next
event; the scheduled pass judges them up to "now" for accounts with no event (`advance`). Both run
the same function over the same points, so a live run, a replay and a restart emit the same alerts
with the same ids, wherever a batch happened to end. An event older than the account's last point
(it arrived late) is judged at that point: the past is not re-judged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from services.renewals.domain.alerts import DEFAULT_REMINDER_DAYS, AlertDecision, AlertState, decide_alert
from services.renewals.domain.book import AccountBook, with_alerts
from services.renewals.domain.renewals import DEFAULT_WINDOW_DAYS
from services.renewals.domain.risk import RULES, RiskRules, health_at, trend_change_days
from shared.periods import midnight, utc_day


@dataclass(frozen=True)
class JudgingRules:
    window_days: int = DEFAULT_WINDOW_DAYS
    reminders: tuple[int, ...] = DEFAULT_REMINDER_DAYS
    risk: RiskRules = RULES


@dataclass(frozen=True)
class Judged:
    book: AccountBook
    decisions: tuple[AlertDecision, ...] = field(default=())

    def then(self, later: Judged) -> Judged:
        return Judged(later.book, self.decisions + later.decisions)


def judge(book: AccountBook, account_id: str, *, at: datetime, rules: JudgingRules) -> Judged:
    """The account's renewals judged at `at` (or at its last point, if that is later)."""
    point = at if book.judged_at is None or at > book.judged_at else book.judged_at
    health = health_at(book.health_trail, point)
    changed: dict[str, AlertState] = {}
    decisions: list[AlertDecision] = []
    for renewal in book.renewals(account_id, at=point, rules=rules.risk):
        before = book.alerts.get(renewal.renewal_id, AlertState())
        state = replace(before, band=renewal.risk.band) if renewal.outcome is None else before
        # No alert without a health record: the alert carries the score and grade it was raised on.
        if health is not None and (decision := decide_alert(renewal, state, health, at=point,
                                                            window_days=rules.window_days,
                                                            reminders=rules.reminders)):
            decisions.append(decision)
            state = decision.state
        if state != before:
            changed[renewal.renewal_id] = state
    return Judged(replace(with_alerts(book, changed), judged_at=point), tuple(decisions))


def change_days(book: AccountBook, *, rules: JudgingRules) -> set[date]:
    """The days from whose midnight on the calendar alone may change a judgement (module docstring)."""
    days = trend_change_days(book.health_trail, rules=rules.risk)
    for contract in book.contracts():
        term = contract.current
        if term is None or contract.status == "cancelled":
            continue  # only a contract's last term, while it is not cancelled, has a pending renewal
        end = term.end_date
        for before in (rules.window_days, rules.risk.closing_days, *rules.reminders):
            days.add(end - timedelta(days=before))
        days.add(end + timedelta(days=1))
    return days


def _midnights(book: AccountBook, *, after: datetime, until: datetime, rules: JudgingRules) -> list[datetime]:
    return sorted(m for m in map(midnight, change_days(book, rules=rules)) if after < m <= until)


def advance(book: AccountBook, account_id: str, *, until: datetime, rules: JudgingRules) -> Judged:
    """The account judged at every midnight after its last point up to `until` where the calendar
    changes something; an account never judged is judged at `until`."""
    if book.judged_at is None:
        return judge(book, account_id, at=until, rules=rules)
    judged = Judged(book)
    for at in _midnights(book, after=book.judged_at, until=until, rules=rules):
        judged = judged.then(judge(judged.book, account_id, at=at, rules=rules))
    return judged


def next_due(book: AccountBook, *, rules: JudgingRules) -> date | None:
    """The first day after the account's last point on which the scheduled pass has to judge it."""
    if book.judged_at is None:
        return None
    last = book.judged_at
    later = [d for d in change_days(book, rules=rules) if midnight(d) > last]
    return min(later) if later else None


def judge_event(
    judged: Judged, account_id: str, *, at: datetime, apply: Callable[[AccountBook], AccountBook],
    rules: JudgingRules,
) -> Judged:
    """One event: the midnights before it, then the event applied and judged at its time."""
    if judged.book.judged_at is not None:
        judged = judged.then(advance(judged.book, account_id, until=at, rules=rules))
    return judged.then(judge(apply(judged.book), account_id, at=at, rules=rules))


def last_midnight(now: datetime, *, grace: timedelta = timedelta(0)) -> datetime:
    """The latest midnight the scheduled pass may judge at: one `grace` old, so events up to that
    late still land before it."""
    return midnight(utc_day(now - grace))
