"""The supervised baseline a score has to beat: logistic regression on a few 30-day activity metrics,
cross-validated by account.

Every snapshot's probability comes from a model fitted on the OTHER accounts' snapshots (grouped
k-fold): a model that has seen an account's earlier months would recognise the account rather than
predict its churn. Features are standardised with the training fold's means and deviations only.

A small Newton (IRLS) solver with a light L2 penalty: eight features and a few thousand rows need
nothing heavier, and it is deterministic.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from shared.backtest.activity import Activity

FEATURES = (
    "log_events_30d", "active_days_30d", "log_features_30d", "log_users_30d", "has_user_ids",
    "events_change", "active_days_change", "log_tenure_days",
)
L2 = 1.0
"""Penalty on the (standardised) coefficients, in units of one observation: enough to keep a
separable fold finite, too small to matter with hundreds of rows."""

Matrix = NDArray[np.float64]


def features(a: Activity) -> list[float]:
    log_events, log_prior = math.log1p(a.events), math.log1p(a.prior_events)
    return [
        log_events,
        a.active_days / 30,
        math.log1p(a.features),
        math.log1p(a.users) if a.users is not None else 0.0,
        0.0 if a.users is None else 1.0,
        log_events - log_prior,
        (a.active_days - a.prior_active_days) / 30,
        math.log1p(a.tenure_days),
    ]


@dataclass(frozen=True)
class LogisticModel:
    mean: Matrix
    scale: Matrix
    weights: Matrix
    """Intercept first, then one weight per standardised feature."""

    def predict(self, x: Matrix) -> Matrix:
        z = ((x - self.mean) / self.scale) @ self.weights[1:] + self.weights[0]
        return _sigmoid(z)


def _sigmoid(z: Matrix) -> Matrix:
    out: Matrix = 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))
    return out


def fit_logistic(x: Matrix, y: Matrix, *, l2: float = L2, iterations: int = 50) -> LogisticModel:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    design = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    weights = np.zeros(design.shape[1])
    penalty = np.eye(design.shape[1]) * l2
    penalty[0, 0] = 0.0  # the intercept is free: it carries the base rate
    for _ in range(iterations):
        p = _sigmoid(design @ weights)
        gradient = design.T @ (y - p) - penalty @ weights
        hessian = (design * (p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian, gradient)
        weights = weights + step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return LogisticModel(mean, scale, weights)


def fold_of(account_id: str, *, folds: int, seed: int) -> int:
    """An account's fold: a hash of its id and the seed, so that it never depends on the order in
    which accounts were read, and all of one account's snapshots share one fold."""
    digest = hashlib.sha256(f"{seed}|{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % folds


def grouped_folds(groups: Sequence[str], *, folds: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """(train rows, test rows) per fold; a group's rows are all in one test fold."""
    assignment = [fold_of(g, folds=folds, seed=seed) for g in groups]
    return [([i for i, f in enumerate(assignment) if f != k], [i for i, f in enumerate(assignment) if f == k])
            for k in range(folds)]


@dataclass(frozen=True)
class CrossValidated:
    probabilities: list[float]
    """Out-of-fold churn probability per row."""
    coefficients: dict[str, float]
    """The model fitted on all rows (standardised features): for reading, never for scoring."""


def cross_validate(rows: Sequence[Sequence[float]], labels: Sequence[bool], groups: Sequence[str], *,
                   folds: int = 5, seed: int = 0) -> CrossValidated:
    x = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
    y = np.asarray(labels, dtype=np.float64)
    out = np.full(len(rows), float(y.mean()) if len(y) else 0.0)
    for train, test in grouped_folds(groups, folds=folds, seed=seed):
        if not test:
            continue
        train_y = y[train]
        if len(train) == 0 or train_y.min() == train_y.max():
            out[test] = float(train_y.mean()) if len(train) else out[test]  # one class: its rate, no ranking
            continue
        out[test] = fit_logistic(x[train], train_y).predict(x[test])
    full = fit_logistic(x, y) if len(y) and y.min() != y.max() else None
    coefficients = {} if full is None else {
        name: round(float(w), 4) for name, w in zip(("intercept", *FEATURES), full.weights, strict=True)}
    return CrossValidated([float(p) for p in out], coefficients)
