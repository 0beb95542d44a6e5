"""What a book allows an alert to do (shared/backtest/ceiling.py): its alert walk keeps the budget, its
frontier picks the best threshold under issue 8's bars, its model never scores an account it was fitted
on, and on the committed socialnet7 fixture it is judged by the same code as the service's alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from shared.backtest.baseline import fold_of
from shared.backtest.ceiling import (
    Account,
    Moment,
    alert_ceiling,
    alerts_at,
    frontier,
    out_of_fold,
)
from shared.backtest.history import read_archive
from shared.backtest.outcomes import AccountOutcomes

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parent / "fixtures" / "churnsim-socialnet7-s4-daily.jsonl.gz"
T0 = datetime(2026, 1, 1, 23, 59, 59, tzinfo=UTC)


def test_an_alert_waits_out_the_budget_after_the_last_one() -> None:
    times = [T0 + timedelta(days=d) for d in range(400)]
    high = [0.9] * 400
    raised = alerts_at(times, high, 0.5, budget_days=182)
    assert [(a.at - T0).days for a in raised] == [0, 182, 364]
    assert alerts_at(times, [0.1] * 400, 0.5) == []


def test_an_alert_needs_the_threshold_reached() -> None:
    times = [T0 + timedelta(days=d) for d in range(5)]
    raised = alerts_at(times, [0.1, 0.49, 0.5, 0.2, 0.9], 0.5)
    assert [(a.at - T0).days for a in raised] == [2]


def _point(rate: float, precision: float, recall: float, threshold: float = 0.5) -> dict[str, object]:
    return {"threshold": threshold, "per_account_quarter": rate, "precision": precision, "judgeable": 10,
            "recall_30d": recall, "churners": 10}


def test_the_frontier_keeps_the_best_threshold_that_meets_the_other_bars() -> None:
    points = [
        _point(0.9, 0.50, 0.90, 0.1),  # over the alert rate: never counts
        _point(0.5, 0.20, 0.80, 0.2),
        _point(0.4, 0.30, 0.70, 0.3),
        _point(0.2, 0.40, 0.50, 0.4),
        _point(0.1, 0.60, 0.20, 0.5),
    ]
    f = frontier(points)
    assert f["best_precision_at_recall"]["threshold"] == 0.3
    assert f["best_recall_at_precision"]["threshold"] == 0.4
    assert f["best_recall_within_rate"]["threshold"] == 0.2
    assert f["meets_all"] is False
    assert frontier([*points, _point(0.3, 0.34, 0.71)])["meets_all"] is True


def _account(account_id: str, row: float, label: bool) -> Account:
    outcomes = AccountOutcomes(account_id, None, ())
    moments = [Moment(T0 + timedelta(days=d), [row + 0.01 * d] * 9, label) for d in range(10)]
    return Account(account_id, outcomes, date(2026, 1, 1), moments)


def test_each_account_is_scored_by_a_model_fitted_without_it() -> None:
    # One churner among stayers: the folds without it have no churn to learn and give their rate, 0;
    # every other fold learned from it.
    stayers = [_account(f"s{i}", float(i % 3), False) for i in range(30)]
    churner = _account("churner", 5.0, True)
    probabilities = out_of_fold([*stayers, churner])
    assert probabilities[-1] == [0.0] * 10
    own_fold = fold_of("churner", folds=5, seed=0)
    others = [p for a, p in zip(stayers, probabilities, strict=False)
              if fold_of(a.account_id, folds=5, seed=0) != own_fold]
    assert others and all(max(p) > 0.0 for p in others)


def test_another_model_can_be_fitted_in_the_same_folds() -> None:
    # A "model" that answers the churn rate of what it was fitted on: the churner's fold saw no churn.
    class Rate:
        def __init__(self, y: np.ndarray) -> None:
            self.rate = float(y.mean())

        def predict(self, x: np.ndarray) -> np.ndarray:
            return np.full(len(x), self.rate)

    fitted: list[int] = []

    def fit(x: np.ndarray, y: np.ndarray) -> Rate:
        fitted.append(len(x))
        return Rate(y)

    stayers = [_account(f"s{i}", float(i % 3), False) for i in range(30)]
    probabilities = out_of_fold([*stayers, _account("churner", 5.0, True)], fit=fit)
    assert len(fitted) == 4  # five folds, one of which (the churner's) has only stayers to learn from
    assert probabilities[-1] == [0.0] * 10
    assert all(0.0 < p[0] < 0.1 for a, p in zip(stayers, probabilities, strict=False)
               if fold_of(a.account_id, folds=5, seed=0) != fold_of("churner", folds=5, seed=0))


def test_on_the_socialnet7_fixture_the_ceiling_is_judged_like_the_service() -> None:
    archive = read_archive([FIXTURE])
    assert archive.horizon is not None
    result = alert_ceiling(archive.histories(), until=archive.horizon, every=7)
    assert result["accounts"] > 100 and result["features"] > 8
    points = result["points"]
    assert len(points) > 20
    churners = {p["churners"] for p in points}
    assert len(churners) == 1 and churners.pop() > 5  # one set of churners, whatever the threshold
    rates = [p["per_account_quarter"] for p in points]
    assert rates == sorted(rates, reverse=True)  # a higher threshold never raises more alerts
    best = result["frontier"]["best_recall_within_rate"]
    assert best is not None and best["per_account_quarter"] <= 0.5


def test_the_printed_line_says_which_bars_the_book_allows() -> None:
    from services.health.backtest.__main__ import ceiling_line

    neither = {"frontier": {"best_precision_at_recall": None, "best_recall_at_precision": None,
                            "best_recall_within_rate": None, "meets_all": False}}
    assert "recall 0.7 is not reached" in ceiling_line(neither) and "precision 1/3 is not reached" in ceiling_line(
        neither)
    both = {"frontier": {"best_precision_at_recall": _point(0.3, 0.34, 0.71), "meets_all": True,
                         "best_recall_at_precision": _point(0.3, 0.34, 0.71), "best_recall_within_rate": None}}
    line = ceiling_line(both)
    assert "at recall 0.71 the best precision is 0.34" in line and line.endswith("all three bars at once: yes")
