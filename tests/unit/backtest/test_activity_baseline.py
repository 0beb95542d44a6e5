"""The baseline's activity metrics and its cross-validation by account."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import numpy as np
import pytest

from shared.backtest.activity import activity_at, usage_days
from shared.backtest.baseline import cross_validate, fit_logistic, fold_of, grouped_folds
from shared.backtest.metrics import auc
from tests.unit.backtest.factories import at, event
from tests.unit.backtest.factories import usage_days as usage_events

pytestmark = pytest.mark.unit

SNAPSHOT = datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)


def test_activity_counts_the_30_days_ending_on_the_snapshot_and_the_30_before() -> None:
    events = usage_events(date(2026, 2, 15), 45, per_day=2, users=2)  # Feb 15 .. Mar 31
    a = activity_at(usage_days(events), SNAPSHOT, customer_since=date(2026, 1, 1))
    assert (a.events, a.active_days, a.features, a.users) == (60.0, 30, 2, 2)
    assert (a.prior_events, a.prior_active_days, a.tenure_days) == (30.0, 15, 89)


def test_a_daily_count_reads_like_the_events_it_sums_and_missing_user_ids_are_unknown() -> None:
    per_event = [event("usage.recorded", at("2026-03-30", h), {"feature": "api"}) for h in range(5)]
    daily = [event("usage.recorded", at("2026-03-30", 23), {"feature": "api", "quantity": 5})]
    a, b = (activity_at(usage_days(e), SNAPSHOT, customer_since=None) for e in (per_event, daily))
    assert a == b and a.events == 5.0 and a.users is None


def test_grouped_folds_never_put_one_account_on_both_sides() -> None:
    rng = random.Random(4)
    groups = [f"acct-{rng.randint(0, 40)}" for _ in range(500)]
    folds = grouped_folds(groups, folds=5, seed=7)
    seen_in_test: dict[str, int] = {}
    for k, (train, test) in enumerate(folds):
        assert not {groups[i] for i in train} & {groups[i] for i in test}
        assert sorted(train + test) == list(range(500))
        for i in test:
            assert seen_in_test.setdefault(groups[i], k) == k
    assert len(seen_in_test) == len(set(groups)), "every account is tested once"
    assert fold_of("acct-3", folds=5, seed=7) == fold_of("acct-3", folds=5, seed=7)


def test_logistic_regression_learns_a_noisy_monotone_relation_out_of_fold() -> None:
    rng = np.random.default_rng(3)
    rows, labels, groups = [], [], []
    for account in range(120):
        level = rng.normal()
        churny = rng.random() < 1 / (1 + np.exp(-3 * level))
        for _month in range(5):
            x = [level + rng.normal(0, 0.3)] + [float(rng.normal()) for _ in range(7)]
            rows.append(x)
            labels.append(bool(churny))
            groups.append(f"a{account}")
    result = cross_validate(rows, labels, groups, folds=5, seed=1)
    assert auc(result.probabilities, labels) > 0.75
    assert result.coefficients["log_events_30d"] > 0, "the first feature carries the risk"


def test_a_training_fold_with_one_class_predicts_its_rate() -> None:
    result = cross_validate([[0.0] * 8, [1.0] * 8], [False, False], ["a", "b"], folds=2, seed=0)
    assert result.probabilities == [0.0, 0.0] and result.coefficients == {}
    model = fit_logistic(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0.0, 0.0, 1.0, 1.0]))
    p = model.predict(np.array([[0.0], [3.0]]))
    assert p[0] < 0.5 < p[1]
