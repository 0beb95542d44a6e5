"""Regression guard on the health signal, on data nobody on the team wrote: a ChurnSim socialnet7 export
(churn follows usage; 50 initial customers, 10 months, daily usage without user ids) committed as a
fixture. Regenerate with `python -m bench.datasets.churnsim --model socialnet7 --seed 4 --granularity
daily --customers 50 --months 10 --out tests/unit/backtest/fixtures/churnsim-socialnet7-s4-daily.jsonl.gz`.

The thresholds are the issue's bar where this small book can judge it (the score ranks churn at least as
well as the supervised baseline on the same snapshots; at most one alert per account every two quarters),
with the figures measured when the fixture was committed in the comments: a change that makes them
worse fails here, in CI, not only in `make bench-signal`."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.health.backtest.core import BacktestSettings
from services.health.backtest.replay import default_scorecards
from services.health.backtest.run import backtest_archive
from shared.backtest.history import read_archive

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parent / "fixtures" / "churnsim-socialnet7-s4-daily.jsonl.gz"


def test_the_default_score_ranks_churn_at_least_as_well_as_the_baseline_without_alert_fatigue() -> None:
    archive = read_archive([FIXTURE])
    assert archive.horizon is not None
    report = backtest_archive(archive, horizon=archive.horizon, scorecards=default_scorecards(),
                              settings=BacktestSettings())
    ranking, alerts = report["ranking"], report["alerts"]
    assert ranking["churned"] >= 10, "enough churn to judge"
    # measured 2026-11-30: score 0.764 (0.767 when the fixture was committed), baseline 0.564, events in
    # the last 30 days 0.789
    assert ranking["auc"]["score"] >= ranking["auc"]["baseline"]
    assert ranking["auc"]["score"] >= 0.72
    # measured: 0.368 alerts per account-quarter (the bar: 0.5; 0.364 when committed), the same with
    # usage_decline gated at 68 as at 50; 0.360 since rare features wait on young accounts (2026-12-01,
    # score unchanged at 0.764 with the young-customer prior)
    assert alerts["per_account_quarter"] <= 0.5
