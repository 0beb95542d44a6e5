"""AUC, ROC points, rates and lift on hand-made lists with known answers."""

from __future__ import annotations

import pytest

from shared.backtest.metrics import (
    Rate,
    auc,
    auc_intervals,
    average_ranks,
    histogram,
    median,
    rate_table,
    rates_by,
    roc_points,
)

pytestmark = pytest.mark.unit


def test_auc_of_a_perfect_a_reversed_and_a_tied_ranking() -> None:
    labels = [False, False, True, True]
    assert auc([0.1, 0.2, 0.8, 0.9], labels) == 1.0
    assert auc([0.9, 0.8, 0.2, 0.1], labels) == 0.0
    assert auc([0.5, 0.5, 0.5, 0.5], labels) == 0.5


def test_auc_counts_each_positive_negative_pair_and_ties_as_half() -> None:
    # pairs (positive, negative): (0.35, 0.1) win, (0.35, 0.4) loss, (0.8, 0.1) win, (0.8, 0.4) win -> 3/4
    assert auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    # positives {1, 2}, negatives {1, 0}: tie 1/2 + 1 + 1 + 1 = 3.5 of 4
    assert auc([1, 1, 2, 0], [True, False, True, False]) == 0.875


def test_auc_is_undefined_with_one_class_only() -> None:
    assert auc([0.1, 0.9], [True, True]) is None
    assert auc([0.1, 0.9], [False, False]) is None
    with pytest.raises(ValueError):
        auc([0.1], [True, False])


def test_average_ranks_share_ties() -> None:
    assert average_ranks([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]


def test_roc_points_run_from_origin_to_corner_with_ties_as_one_diagonal_step() -> None:
    points = roc_points([0.9, 0.5, 0.5, 0.1], [True, True, False, False])
    assert points == [(0.0, 0.0), (0.0, 0.5), (0.5, 1.0), (1.0, 1.0)]
    assert roc_points([0.1, 0.2], [True, True]) == []


def test_roc_points_are_thinned_keeping_both_ends() -> None:
    risks = [i / 1000 for i in range(1000)]
    labels = [i % 3 == 0 for i in range(1000)]
    points = roc_points(risks, labels, most=50)
    assert len(points) == 50
    assert points[0] == (0.0, 0.0) and points[-1] == (1.0, 1.0)


def test_rates_and_lift_by_category() -> None:
    rates = rates_by([("red", True), ("red", False), ("green", False), ("green", False), ("green", True),
                      ("green", False)])
    assert rates == {"green": Rate(4, 1), "red": Rate(2, 1)}
    table = rate_table(rates, overall=Rate(6, 2))
    assert table["red"] == {"n": 2, "churned": 1, "rate": 0.5, "lift": 1.5}
    assert table["green"]["lift"] == 0.75


def test_histogram_keeps_empty_bins_between_and_median() -> None:
    assert histogram([1, 2, 31], width=15) == [{"from": 0, "to": 15, "count": 2}, {"from": 15, "to": 30, "count": 0},
                                               {"from": 30, "to": 45, "count": 1}]
    assert histogram([], width=15) == []
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert median([]) is None


def test_bootstrap_intervals_hold_the_auc_and_resample_whole_accounts() -> None:
    labels = [i % 4 == 0 for i in range(200)]
    good = [1.0 if label else 0.0 for label in labels]
    noisy = [(i * 7919 % 101) / 101 for i in range(200)]
    groups = [f"a{i // 5}" for i in range(200)]
    out = auc_intervals({"good": good, "noisy": noisy}, labels, groups, differences=[("good", "noisy")], seed=1)
    assert out["good"] == [1.0, 1.0]
    lo, hi = out["noisy"] or [0.0, 0.0]
    assert lo < auc(noisy, labels) < hi  # type: ignore[operator]
    diff = out["good_minus_noisy"]
    assert diff is not None and diff[0] > 0
    assert auc_intervals({"x": [0.5]}, [True], ["a"], seed=1) == {"x": None}
