"""What a book allows a churn-risk alert to do: alerts from a model fitted to the book's own outcomes.

Issue 8 asks of the default alerts, on behaviour-driven data, at most 0.5 alerts per account-quarter, at
least a third of them followed by churn or contraction within 120 days, and 70% of churners alerted 30
days or more ahead. Whether a book allows that at all is a property of the book. This measures it with
a rule fitted to the book's own outcomes: a logistic regression on the baseline's activity metrics and
tenure plus every behaviour's 30-day volume apart, fitted on churn or contraction within 120 days (the
precision's own test), each account scored by a model that never saw it (grouped folds, as the
baseline), rescored at the end of every day. It raises an alert when its probability reaches a
threshold, at most one per account per `BUDGET_DAYS` (the default cards' budget), with no sustain (a
sustain can only delay). Every threshold is tried and the best kept, on the same data: in sample,
optimistic, not a rule anybody could ship. Alerts are judged by the very code that judges the
service's (`shared.backtest.judging`).

What it can and cannot show: the model reads usage and tenure only, so on a book whose only inputs are
usage and contracts it reads what the book carries, fitted to the answer, and a default rule on the same
inputs that meets the bars where it does not would be a surprise (not a proof: a richer model might do
better). On a book with relationship, sentiment and support data it sees less than the health service
does, and the service's alerts may beat it. The model is a parameter (`fit`): `bench.alert_ceiling
--model gbm` asks the same question of gradient-boosted trees, which can use interactions and thresholds
a linear model cannot.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import numpy as np

from shared.backtest.activity import WINDOW_DAYS, activity_at, usage_days
from shared.backtest.baseline import FEATURES, Matrix, features, fit_logistic, fold_of
from shared.backtest.history import AccountHistory
from shared.backtest.judging import (
    PRECISION_BAR,
    RATE_BAR,
    RECALL_BAR,
    AccountAlerts,
    RaisedAlert,
    alert_summary,
    followed,
    judge_account,
)
from shared.backtest.outcomes import AccountOutcomes, end_of_day, label_outcomes
from shared.events import UsageRecorded

BUDGET_DAYS = 182
KIND = "ceiling"
FOLDS = 5


class Model(Protocol):
    def predict(self, x: Matrix) -> Matrix:
        """The probability of the label for each row."""
        ...


Fit = Callable[[Matrix, Matrix], Model]
"""Rows and 0/1 labels -> a fitted model. The default is the baseline's logistic regression; the bench
can pass a non-linear one (`bench.alert_ceiling --model gbm`)."""


@dataclass(frozen=True)
class Moment:
    at: datetime
    row: list[float]
    label: bool | None
    """Churn or contraction within FOLLOW_DAYS; None where that cannot be judged yet."""


@dataclass(frozen=True)
class Account:
    account_id: str
    outcomes: AccountOutcomes
    first: date
    moments: list[Moment]


def feature_volumes(history: AccountHistory) -> dict[str, dict[int, float]]:
    """Per feature, its quantity per UTC day (ordinal)."""
    out: dict[str, dict[int, float]] = {}
    for e in history.events:
        if isinstance(e.data, UsageRecorded):
            days = out.setdefault(e.data.feature, {})
            day = e.occurred_at.astimezone(UTC).date().toordinal()
            days[day] = days.get(day, 0.0) + float(e.data.quantity)
    return out


def account_moments(history: AccountHistory, volumes: Mapping[str, Mapping[int, float]], vocabulary: Sequence[str],
                    *, horizon: date, every: int) -> Account | None:
    events = history.events
    if not events:
        return None
    first = events[0].occurred_at.astimezone(UTC).date()
    outcomes = label_outcomes(history.account_id, events, horizon=horizon)
    usage = usage_days(events)
    base = first.toordinal() - WINDOW_DAYS
    daily = np.zeros(((horizon - first).days + WINDOW_DAYS + 2, len(vocabulary)))
    for j, f in enumerate(vocabulary):
        for ordinal, quantity in volumes.get(f, {}).items():
            if 0 <= ordinal - base < len(daily) - 1:
                daily[ordinal - base + 1, j] += quantity
    running = np.cumsum(daily, axis=0)
    moments = []
    for offset in range(0, (horizon - first).days + 1, every):
        day = first + timedelta(days=offset)
        at = end_of_day(day)
        if not outcomes.active_at(at):
            continue
        today = day.toordinal()
        end = today - base + 1
        per_feature = [math.log1p(v) for v in (running[end] - running[end - WINDOW_DAYS]).tolist()]
        row = features(activity_at(usage, at, customer_since=outcomes.first_start)) + per_feature
        hit, judgeable = followed(outcomes, day, horizon=horizon)
        moments.append(Moment(at, row, hit if judgeable else None))
    return Account(history.account_id, outcomes, first, moments)


def out_of_fold(accounts: Sequence[Account], *, fit: Fit = fit_logistic, folds: int = FOLDS, seed: int = 0
                ) -> list[list[float]]:
    """Per account, per moment, the probability from a model fitted on the other folds' labelled moments."""
    fold = [fold_of(a.account_id, folds=folds, seed=seed) for a in accounts]
    out: list[list[float]] = [[] for _ in accounts]
    for k in range(folds):
        train = [m for a, f in zip(accounts, fold, strict=True) if f != k for m in a.moments if m.label is not None]
        test = [i for i, f in enumerate(fold) if f == k and accounts[i].moments]
        if not test:
            continue
        labels = np.asarray([m.label for m in train], dtype=np.float64)
        if not train or labels.min() == labels.max():
            rate = float(labels.mean()) if train else 0.0
            for i in test:
                out[i] = [rate] * len(accounts[i].moments)
            continue
        model = fit(np.asarray([m.row for m in train], dtype=np.float64), labels)
        for i in test:
            rows = np.asarray([m.row for m in accounts[i].moments], dtype=np.float64)
            out[i] = [float(p) for p in model.predict(rows)]
    return out


def alerts_at(times: Sequence[datetime], probabilities: Sequence[float], threshold: float, *,
              budget_days: int = BUDGET_DAYS) -> list[RaisedAlert]:
    """An alert at each moment the probability reaches `threshold`, at most one per `budget_days`."""
    raised: list[RaisedAlert] = []
    for at, p in zip(times, probabilities, strict=True):
        if p >= threshold and (not raised or (at - raised[-1].at).days >= budget_days):
            raised.append(RaisedAlert(KIND, at))
    return raised


def judged_at(accounts: Sequence[Account], probabilities: Sequence[Sequence[float]], threshold: float,
              *, horizon: date) -> dict[str, Any]:
    judged: Iterable[AccountAlerts] = (
        judge_account(alerts_at([m.at for m in a.moments], p, threshold), a.outcomes, horizon=horizon,
                      observed_from=a.first)
        for a, p in zip(accounts, probabilities, strict=True))
    summary = alert_summary(judged, [KIND])
    return {"threshold": round(threshold, 5), "per_account_quarter": summary["per_account_quarter"],
            "precision": summary["precision"]["precision"], "judgeable": summary["precision"]["judgeable"],
            "recall_30d": summary["recall"]["recall"], "churners": summary["recall"]["churners"]}


def frontier(points: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The best the thresholds reach under issue 8's bars: precision where recall and the alert rate
    meet theirs, recall where precision and the rate meet theirs, and whether one threshold meets all."""
    def within_rate(p: dict[str, Any]) -> bool:
        return p["per_account_quarter"] is not None and p["per_account_quarter"] <= RATE_BAR

    def best(candidates: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
        return max(candidates, key=lambda p: (p[key] or 0.0), default=None)

    rated = [p for p in points if within_rate(p)]
    return {
        "best_precision_at_recall": best([p for p in rated if (p["recall_30d"] or 0) >= RECALL_BAR], "precision"),
        "best_recall_at_precision": best([p for p in rated if (p["precision"] or 0) >= PRECISION_BAR], "recall_30d"),
        "best_recall_within_rate": best(rated, "recall_30d"),
        "meets_all": any((p["precision"] or 0) >= PRECISION_BAR and (p["recall_30d"] or 0) >= RECALL_BAR
                         for p in rated),
    }


def thresholds_of(probabilities: Sequence[Sequence[float]], count: int = 80) -> list[float]:
    """Quantiles of every moment's probability, from the median up (lower thresholds alert everybody)."""
    flat = np.asarray([p for ps in probabilities for p in ps], dtype=np.float64)
    if not len(flat):
        return []
    return sorted({float(q) for q in np.quantile(flat, np.linspace(0.5, 0.999, count))})


def alert_ceiling(histories: Iterable[AccountHistory], *, until: datetime, every: int = 1,
                  max_features: int = 40, fit: Fit = fit_logistic) -> dict[str, Any]:
    """What the book allows (see the module docstring): the frontier under issue 8's bars and every
    threshold's figures. Events after `until` (the backtest's horizon) are not read."""
    kept = [AccountHistory(h.account_id, tuple(e for e in h.events if e.occurred_at <= until)) for h in histories]
    horizon = until.date()
    volumes = [feature_volumes(h) for h in kept]
    counts = Counter(f for v in volumes for f in v)
    vocabulary = sorted(counts, key=lambda f: (-counts[f], f))[:max_features]
    accounts = [a for h, v in zip(kept, volumes, strict=True)
                if (a := account_moments(h, v, vocabulary, horizon=horizon, every=every))]
    probabilities = out_of_fold(accounts, fit=fit)
    points = [judged_at(accounts, probabilities, t, horizon=horizon) for t in thresholds_of(probabilities)]
    return {"accounts": len(accounts), "moments": sum(len(a.moments) for a in accounts),
            "features": len(vocabulary) + len(FEATURES), "every_days": every, "budget_days": BUDGET_DAYS,
            "frontier": frontier(points), "points": points}
