"""Snapshot dates (when the past is scored) and which snapshots can be judged.

A snapshot counts when the account is a customer at that moment with no cancellation already on
record, and when the whole outcome window after it lies before the horizon (the end of the data):
otherwise "did not churn" would only mean "we stopped looking".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from shared.backtest.outcomes import AccountOutcomes, end_of_day

SnapshotKind = Literal["month-end", "pre-renewal"]
SNAPSHOT_KINDS: tuple[SnapshotKind, ...] = ("month-end", "pre-renewal")
OUTCOME_DAYS = 90
"""The outcome judged at a snapshot: churn within this many days."""
PRE_RENEWAL_DAYS = 90


@dataclass(frozen=True, slots=True)
class Snapshot:
    account_id: str
    at: datetime
    kind: SnapshotKind
    segment: str
    churned: bool
    """Churned within OUTCOME_DAYS after `at`."""
    contracted: bool
    """Revenue contracted (lower ARR or seats) within OUTCOME_DAYS after `at`."""


def month_ends(first: date, last: date) -> list[datetime]:
    """The last second (UTC) of every month whose last day lies in [first, last]."""
    out: list[datetime] = []
    year, month = first.year, first.month
    while True:
        next_month = date(year + month // 12, month % 12 + 1, 1)
        last_day = next_month - timedelta(days=1)
        if last_day > last:
            return out
        if last_day >= first:
            out.append(end_of_day(last_day))
        year, month = next_month.year, next_month.month


def snapshot_times(kinds: Iterable[SnapshotKind], outcomes: AccountOutcomes, *, first: date,
                   horizon: date) -> list[tuple[datetime, SnapshotKind]]:
    """Candidate snapshots of one account between `first` (its first event) and `horizon`, by time."""
    times: dict[datetime, SnapshotKind] = {}
    for kind in kinds:
        if kind == "month-end":
            candidates = month_ends(first, horizon)
        else:
            candidates = [end_of_day(end - timedelta(days=PRE_RENEWAL_DAYS)) for end in outcomes.term_ends]
        for at in candidates:
            if first <= at.date() <= horizon:
                times.setdefault(at, kind)
    return sorted(times.items())


def judged_snapshots(outcomes: AccountOutcomes, candidates: Sequence[tuple[datetime, SnapshotKind]], *,
                     horizon: date) -> list[Snapshot]:
    """The candidates that can be judged, with their outcomes."""
    out = []
    for at, kind in candidates:
        day = at.astimezone(UTC).date()
        until = day + timedelta(days=OUTCOME_DAYS)
        if until > horizon or not outcomes.active_at(at) or outcomes.unconfirmed_between(day, until):
            continue
        out.append(Snapshot(
            account_id=outcomes.account_id, at=at, kind=kind, segment=outcomes.segment or "none",
            churned=outcomes.churn_between(day, until) is not None,
            contracted=outcomes.change_between("contraction", day, until) is not None,
        ))
    return out
