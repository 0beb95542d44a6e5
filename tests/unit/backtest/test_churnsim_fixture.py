"""Regression: the backtest on a small data set nobody on the team wrote, a ChurnSim export committed as
a fixture (crm6, seed 3, 25 initial customers, 10 months, daily granularity; regenerate with
`python -m bench.datasets.churnsim --model crm6 --seed 3 --granularity daily --customers 25 --months 10
--out tests/unit/backtest/fixtures/churnsim-crm6-s3-daily.jsonl.gz`).

Churn in crm6 is mostly random, so only sanity is asserted here; the thresholds the score must reach
are asserted on a behaviour-driven book in test_signal_regression.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.health.backtest.__main__ import headline, main
from services.health.backtest.core import BacktestSettings
from services.health.backtest.replay import default_scorecards
from services.health.backtest.run import backtest_archive
from shared.backtest.history import read_archive

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parent / "fixtures" / "churnsim-crm6-s3-daily.jsonl.gz"


def test_the_backtest_runs_on_a_churnsim_export_with_the_baseline_beside_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # With --alert-ceiling, so one replay of the fixture checks both (the API test checks it stays out
    # when not asked for).
    assert main(["--events", str(FIXTURE), "--out", str(tmp_path), "--alert-ceiling"]) == 0
    assert "what the book allows" in capsys.readouterr().out

    report = json.loads((tmp_path / "backtest.json").read_text())
    print(headline(report))
    assert report["dataset"]["model"] == "crm6" and report["dataset"]["rejected"] == 0
    ranking = report["ranking"]
    assert ranking["snapshots"] > 100 and ranking["churned"] > 0
    for series in ("score", "baseline", "events_30d"):
        assert 0.0 <= ranking["auc"][series] <= 1.0
    assert ranking["baseline"]["coefficients_all_rows"], "the baseline was fitted"
    assert ranking["components"]["engagement"]["measured"] == 0, "usage and contracts only"
    assert report["alerts"]["recall"]["churners"] > 0
    page = (tmp_path / "backtest.html").read_text()
    assert page.startswith("<!doctype html>")

    ceiling = report["alert_ceiling"]
    assert ceiling["accounts"] == report["dataset"]["accounts"] and ceiling["points"]
    assert {p["churners"] for p in ceiling["points"]} == {report["alerts"]["recall"]["churners"]}, (
        "the same churners as the service's alerts are judged on")
    assert set(ceiling["frontier"]) == {"best_precision_at_recall", "best_recall_at_precision",
                                        "best_recall_within_rate", "meets_all"}
    assert "What this book allows" in page


def test_workers_do_not_change_a_figure() -> None:
    archive = read_archive([FIXTURE])
    assert archive.horizon is not None
    one, two = (backtest_archive(archive, horizon=archive.horizon, scorecards=default_scorecards(),
                                 settings=BacktestSettings(), workers=w) for w in (1, 2))
    assert one == two


def test_the_calibration_command_proposes_valid_cards_and_judges_them_out_of_fold(tmp_path: Path) -> None:
    from services.health.backtest.calibrate import main as calibrate_main
    from services.health.domain import validate_scorecard

    assert calibrate_main(["--events", str(FIXTURE), "--out", str(tmp_path), "--folds", "3"]) == 0
    report = json.loads((tmp_path / "calibration.json").read_text())
    assert set(report["segments"]) <= {"enterprise", "mid_market", "smb", "default"}
    alerts = report["alert_rules"]["segments"]
    for segment, figures in report["segments"].items():
        proposal = tmp_path / "proposed" / f"{segment}.json"
        rules = alerts.get(segment, {})
        proposed_rules = rules.get("proposed", rules.get("current"))
        if "kept" in figures and proposed_rules == rules.get("current"):
            assert not proposal.exists()
            continue
        card = validate_scorecard(json.loads(proposal.read_text()))
        assert card.segment == segment and card.calibration is not None
        if proposed_rules is not None:
            assert (sorted(card.alerts.enabled), card.alerts.grade_red_sustain_days) == (
                proposed_rules["enabled"], proposed_rules["grade_red_sustain_days"]), "the fitted rules are on it"
        if "kept" not in figures:
            assert figures["judged_out_of_fold"] > 0 and 0.0 <= figures["auc"]["proposed_out_of_fold"] <= 1.0
    book = report["alert_rules"]["book"]
    assert book["current"]["raised"] > 0, "the book's alerts were judged"
    assert book["proposed_out_of_fold"]["alerts_per_account_quarter"] is not None
