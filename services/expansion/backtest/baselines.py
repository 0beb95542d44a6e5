"""The baselines an upsell rule has to beat, judged the same way in the same run: at every month end
of every customer, rank accounts on plain 30-day usage (shared.backtest.activity) and "trigger" the
top decile of that month.

* `growth_top_decile`: the change of 30-day usage against the 30 days before (log ratio of summed
  quantity), no fitting at all;
* `logistic_top_decile`: the out-of-fold probability of an upgrade within 90 days from the
  supervised baseline of the health backtest (logistic regression on the same eight 30-day activity
  metrics, cross-validated by account), so no account is scored by a model that saw it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.expansion.backtest.judge import WINDOW_DAYS, RaisedTrigger
from shared.backtest.activity import Activity
from shared.backtest.baseline import cross_validate, features
from shared.backtest.metrics import auc, rounded

TOP_SHARE = 0.1
GROWTH = "growth_top_decile"
LOGISTIC = "logistic_top_decile"
KINDS = (GROWTH, LOGISTIC)


@dataclass(frozen=True, slots=True)
class MonthEnd:
    account_id: str
    at: datetime
    activity: Activity
    upgraded: bool
    """An upgrade came within WINDOW_DAYS after `at` (as far as the history tells)."""


def growth(activity: Activity) -> float:
    return math.log1p(activity.events) - math.log1p(activity.prior_events)


def baseline_triggers(points: Sequence[MonthEnd], *, folds: int = 5) -> tuple[list[RaisedTrigger], dict[str, object]]:
    """Both baselines' triggers, and the logistic model's out-of-fold AUC for "upgrade within 90 days"."""
    rows = [features(p.activity) for p in points]
    labels = [p.upgraded for p in points]
    fitted = cross_validate(rows, labels, [p.account_id for p in points], folds=folds)
    triggers = _top_share(points, [growth(p.activity) for p in points], GROWTH)
    triggers += _top_share(points, fitted.probabilities, LOGISTIC)
    return triggers, {"window_days": WINDOW_DAYS, "month_ends": len(points), "upgraded": sum(labels),
                      "auc_logistic": rounded(auc(fitted.probabilities, labels)),
                      "auc_growth": rounded(auc([growth(p.activity) for p in points], labels)),
                      "coefficients": fitted.coefficients}


def _top_share(points: Sequence[MonthEnd], scores: Sequence[float], kind: str) -> list[RaisedTrigger]:
    months: dict[datetime, list[int]] = {}
    for index, point in enumerate(points):
        months.setdefault(point.at, []).append(index)
    out = []
    for at, indices in sorted(months.items()):
        ranked = sorted(indices, key=lambda i: (-scores[i], points[i].account_id))
        for i in ranked[:max(1, round(len(ranked) * TOP_SHARE))]:
            out.append(RaisedTrigger(points[i].account_id, kind, at))
    return out
