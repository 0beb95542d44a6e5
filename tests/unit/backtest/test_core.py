"""The whole backtest on a small hand-made book: the report's shape, its determinism, the page."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.health.backtest.core import BacktestSettings, run_backtest
from services.health.backtest.replay import default_scorecards
from shared.backtest.history import AccountHistory
from shared.backtest.html import render_page
from tests.unit.backtest.factories import at, cancel, term, usage_days

pytestmark = pytest.mark.unit

HORIZON = datetime(2026, 12, 31, 12, tzinfo=UTC)


def _book() -> list[AccountHistory]:
    histories = []
    for n in range(8):
        account = f"acct-{n}"
        events = [term("contract.signed", at("2026-01-01", 0), start="2026-01-01", end="2027-06-30", account=account,
                       segment="smb" if n % 2 else "<b>odd</b>")]
        churner = n < 3
        events += usage_days(date(2026, 1, 1), 90 if churner else 364, per_day=1 + n % 3, account=account)
        if churner:
            events.append(cancel(at("2026-05-15", 0), end="2026-06-30", account=account))
        histories.append(AccountHistory(account, tuple(sorted(events, key=lambda e: (e.occurred_at, e.event_id)))))
    return histories


def test_the_report_has_every_figure_and_the_same_figures_every_time() -> None:
    settings = BacktestSettings(folds=2, seed=3)
    report = run_backtest(_book(), horizon=HORIZON, scorecards=default_scorecards(), settings=settings)
    again = run_backtest(_book(), horizon=HORIZON, scorecards=default_scorecards(), settings=settings)
    assert report == again
    assert set(report) == {"settings", "accounts", "replay", "ranking", "alerts"}
    ranking = report["ranking"]
    assert set(ranking) >= {"snapshots", "accounts", "churned", "churn_rate", "auc", "auc_interval_90", "grades",
                            "components", "parts", "segments", "snapshot_kinds", "baseline", "roc"}
    # snapshots Jan..Sep (Oct on: the 90 days pass the horizon); churners only until their notice in May
    assert ranking["accounts"] == 8 and ranking["snapshots"] == 3 * 4 + 5 * 9
    assert ranking["churned"] == 3, "April 30 sees June 30 coming within 90 days; March 31 does not"
    for series in ("score", "baseline", "events_30d"):
        assert 0.0 <= ranking["auc"][series] <= 1.0
    assert set(ranking["segments"]) == {"smb", "<b>odd</b>"}
    assert ranking["snapshot_kinds"]["month-end"]["snapshots"] == ranking["snapshots"]
    assert {"usage.trend", "usage.recency", "usage.breadth"} <= set(ranking["parts"])
    assert ranking["parts"]["usage.recency"]["measured"] == ranking["snapshots"]
    assert set(report["alerts"]) >= {"raised", "per_account_quarter", "precision", "precision_by_kind", "recall",
                                     "lead_days"}
    assert report["replay"]["unscored_snapshots"] == 0


def test_the_page_is_one_file_with_its_text_escaped() -> None:
    report = run_backtest(_book(), horizon=HORIZON, scorecards=default_scorecards(),
                          settings=BacktestSettings(folds=2))
    page = render_page({"dataset": {"name": "<script>alert(1)</script>"}, **report}, title="t <i>")
    assert "<script" not in page and "&lt;script&gt;" in page and "&lt;b&gt;odd&lt;/b&gt;" in page
    assert "http" not in page, "no network: nothing is loaded from elsewhere"
    assert page.count("<svg") == 4


def test_accounts_without_contract_count_but_give_no_snapshot() -> None:
    lone = usage_days(date(2026, 1, 1), 30, account="acct-x")
    report = run_backtest([AccountHistory("acct-x", tuple(lone))], horizon=HORIZON + timedelta(days=1),
                          scorecards=default_scorecards())
    assert report["accounts"] == {"total": 1, "without_contract": 1}
    assert report["ranking"]["snapshots"] == 0 and report["ranking"]["auc"]["score"] is None


def test_nothing_after_the_horizon_is_read() -> None:
    book = _book()
    early = datetime(2026, 9, 30, 12, tzinfo=UTC)
    cut = [AccountHistory(h.account_id, tuple(e for e in h.events if e.occurred_at <= early)) for h in book]
    settings = BacktestSettings(folds=2)
    assert run_backtest(book, horizon=early, scorecards=default_scorecards(), settings=settings) == run_backtest(
        cut, horizon=early, scorecards=default_scorecards(), settings=settings)
