"""Which snapshots can be judged, and their labels."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.backtest.outcomes import label_outcomes
from shared.backtest.snapshots import judged_snapshots, month_ends, snapshot_times
from tests.unit.backtest.factories import at, cancel, term

pytestmark = pytest.mark.unit


def test_month_ends_are_the_last_second_of_each_month_in_range() -> None:
    ends = month_ends(date(2026, 1, 15), date(2026, 4, 29))
    assert ends == [datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC), datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC),
                    datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)]
    assert month_ends(date(2026, 12, 1), date(2027, 1, 31))[-1].date() == date(2027, 1, 31)


def test_snapshots_count_only_while_a_customer_and_with_the_whole_window_observed() -> None:
    events = [term("contract.signed", at("2026-02-10"), start="2026-02-10", end="2026-09-30"),
              cancel(at("2026-08-15"), end="2026-09-30")]
    horizon = date(2026, 12, 15)
    outcomes = label_outcomes("acct-1", events, horizon=horizon)
    candidates = snapshot_times(["month-end"], outcomes, first=date(2026, 1, 5), horizon=horizon)
    judged = {s.at.date(): s.churned for s in judged_snapshots(outcomes, candidates, horizon=horizon)}
    # January: not yet a customer; Feb-Jul: customer; Aug on: notice given (then gone); Oct-Dec: window past horizon
    assert judged == {date(2026, 2, 28): False, date(2026, 3, 31): False, date(2026, 4, 30): False,
                      date(2026, 5, 31): False, date(2026, 6, 30): False, date(2026, 7, 31): True}


def test_the_90_day_window_includes_its_last_day() -> None:
    events = [term("contract.signed", at("2026-01-01"), start="2026-01-01", end="2026-06-29")]
    outcomes = label_outcomes("acct-1", events, horizon=date(2026, 12, 31))
    snaps = judged_snapshots(outcomes, [(datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC), "month-end"),
                                        (datetime(2026, 3, 30, 23, 59, 59, tzinfo=UTC), "month-end")],
                             horizon=date(2026, 12, 31))
    assert [(s.at.day, s.churned) for s in snaps] == [(31, True), (30, False)]


def test_pre_renewal_snapshots_sit_90_days_before_each_term_end() -> None:
    events = [term("contract.signed", at("2026-01-01"), start="2026-01-01", end="2026-12-31", segment="smb"),
              term("contract.renewed", at("2026-12-01"), start="2026-12-31", end="2027-12-31", arr="900")]
    outcomes = label_outcomes("acct-1", events, horizon=date(2028, 6, 1))
    candidates = snapshot_times(["pre-renewal"], outcomes, first=date(2026, 1, 1), horizon=date(2028, 6, 1))
    assert [c[0].date() for c in candidates] == [date(2026, 10, 2), date(2027, 10, 2)]
    snaps = judged_snapshots(outcomes, candidates, horizon=date(2028, 6, 1))
    assert [(s.churned, s.contracted, s.segment) for s in snaps] == [(False, True, "smb"), (True, False, "smb")]
