"""Judging raised signals (churn-risk alerts, and later upsell triggers) against what happened.

* Precision of a kind: the share of its alerts, raised while the account was a customer, that were
  followed by churn or contraction within `FOLLOW_DAYS`. An alert is judgeable once its window has
  passed before the horizon, or once the outcome it predicts has happened.
* Recall: the share of churners (churned before the horizon, a customer `LEAD_DAYS` before) that had
  an alert raised between `FOLLOW_DAYS` and `LEAD_DAYS` before the churn: early enough to act on.
* Lead time: days from the earliest alert in the `FOLLOW_DAYS` before a churn to the churn.
* Alerts per account per quarter: alerts raised while a customer, over customer-quarters observed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.backtest.metrics import histogram, median, rounded
from shared.backtest.outcomes import AccountOutcomes

FOLLOW_DAYS = 120
LEAD_DAYS = 30
QUARTER_DAYS = 365.25 / 4
PRECISION_BAR = 1 / 3
RECALL_BAR = 0.7
RATE_BAR = 0.5
"""Issue 8's bars for churn-risk alerts: precision, recall 30 days ahead, alerts per account-quarter."""


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    kind: str
    at: datetime
    severity: str = ""
    resolved_at: datetime | None = None
    """When it was resolved; None: still open where the replay ended."""


@dataclass(frozen=True, slots=True)
class JudgedAlert:
    kind: str
    at: datetime
    judgeable: bool
    hit: bool
    """Followed by churn or contraction within FOLLOW_DAYS."""


@dataclass(frozen=True, slots=True)
class Churner:
    churned_on: date
    alerted_ahead: bool
    """An alert between FOLLOW_DAYS and LEAD_DAYS before the churn."""
    open_ahead: bool
    """An alert raised earlier still open LEAD_DAYS before the churn: in the inbox then, but raised too
    early to count in `alerted_ahead`."""
    kinds_ahead: frozenset[str]
    lead_days: int | None
    """Days from the earliest alert in the FOLLOW_DAYS before the churn (None: no alert)."""


@dataclass(frozen=True, slots=True)
class AccountAlerts:
    judged: tuple[JudgedAlert, ...]
    churners: tuple[Churner, ...]
    customer_days: int
    ignored: int
    """Alerts raised while the account was not a customer (or had given notice): not judged."""


def followed(outcomes: AccountOutcomes, day: date, *, horizon: date) -> tuple[bool, bool]:
    """(followed by churn or contraction within FOLLOW_DAYS of `day`, whether that can be judged yet)."""
    until = day + timedelta(days=FOLLOW_DAYS)
    hit = (outcomes.churn_between(day, until) or outcomes.change_between("contraction", day, until)) is not None
    return hit, hit or (until <= horizon and not outcomes.unconfirmed_between(day, until))


def judge_account(alerts: Sequence[RaisedAlert], outcomes: AccountOutcomes, *, horizon: date,
                  observed_from: date) -> AccountAlerts:
    judged = []
    active = [a for a in alerts if outcomes.active_at(a.at)]
    for a in active:
        hit, judgeable = followed(outcomes, a.at.astimezone(UTC).date(), horizon=horizon)
        judged.append(JudgedAlert(a.kind, a.at, judgeable, hit))
    churners = []
    for churned_on in outcomes.churn_dates:
        if churned_on > horizon or churned_on - timedelta(days=LEAD_DAYS) < observed_from:
            continue
        if not outcomes.active_at(_start(churned_on - timedelta(days=LEAD_DAYS))):
            continue
        window = [a for a in active
                  if churned_on - timedelta(days=FOLLOW_DAYS) <= a.at.astimezone(UTC).date() < churned_on]
        ahead = [a for a in window if a.at.astimezone(UTC).date() <= churned_on - timedelta(days=LEAD_DAYS)]
        earliest = min((a.at.astimezone(UTC).date() for a in window), default=None)
        cutoff = _start(churned_on - timedelta(days=LEAD_DAYS - 1))  # the end of the day LEAD_DAYS before
        still_open = any(a.at <= cutoff and (a.resolved_at is None or a.resolved_at > cutoff) for a in active)
        churners.append(Churner(churned_on, bool(ahead), still_open, frozenset(a.kind for a in ahead),
                                None if earliest is None else (churned_on - earliest).days))
    return AccountAlerts(tuple(judged), tuple(churners), _customer_days(outcomes, observed_from, horizon),
                         len(alerts) - len(active))


def _start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _customer_days(outcomes: AccountOutcomes, first: date, last: date) -> int:
    days = 0
    for c in outcomes.coverage:
        start, stop = max(c.start, first), min(c.stop or last, last)
        days += max(0, (stop - start).days)
    return days


def alert_summary(accounts: Iterable[AccountAlerts], kinds: Sequence[str]) -> dict[str, Any]:
    """Precision per kind and overall, recall and lead times over churners, alerts per account-quarter."""
    judged: list[JudgedAlert] = []
    churners: list[Churner] = []
    customer_days = ignored = 0
    for a in accounts:
        judged.extend(a.judged)
        churners.extend(a.churners)
        customer_days += a.customer_days
        ignored += a.ignored
    per_kind = {kind: _precision([j for j in judged if j.kind == kind]) for kind in
                sorted(set(kinds) | {j.kind for j in judged})}
    leads = [c.lead_days for c in churners if c.lead_days is not None]
    quarters = customer_days / QUARTER_DAYS
    return {
        "raised": len(judged),
        "raised_while_not_customer": ignored,
        "per_account_quarter": rounded(len(judged) / quarters, 3) if quarters else None,
        "customer_quarters": rounded(quarters, 1),
        "precision": _precision(judged),
        "precision_by_kind": per_kind,
        "recall": {
            "churners": len(churners),
            "alerted_30d_ahead": sum(c.alerted_ahead for c in churners),
            "recall": rounded(sum(c.alerted_ahead for c in churners) / len(churners)) if churners else None,
            "alerted_or_open_ahead": sum(c.alerted_ahead or c.open_ahead for c in churners),
            "recall_with_open": rounded(sum(c.alerted_ahead or c.open_ahead for c in churners) / len(churners))
            if churners else None,
            "by_kind": {kind: rounded(sum(kind in c.kinds_ahead for c in churners) / len(churners))
                        if churners else None for kind in per_kind},
        },
        "lead_days": {
            "churners_alerted": len(leads),
            "median": median([float(v) for v in leads]),
            "histogram": histogram([float(v) for v in leads], width=15.0),
        },
    }


def _precision(judged: Sequence[JudgedAlert]) -> dict[str, Any]:
    judgeable = [j for j in judged if j.judgeable]
    hits = sum(j.hit for j in judgeable)
    return {"raised": len(judged), "judgeable": len(judgeable), "followed": hits,
            "precision": rounded(hits / len(judgeable)) if judgeable else None}
