"""Calibration: probability bands, the scorecard's optional section, alerts that carry it, and the
out-of-fold fit on a book whose answer is known."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime
from itertools import pairwise

import pytest

from services.health.backtest.fit import calibrate, fit_weights
from services.health.domain import (
    DEFAULT_SCORECARDS,
    ScorecardInvalid,
    evaluate_alerts,
    scorecard_to_json,
    validate_scorecard,
)
from services.health.domain.calibration import Calibration, ProbabilityBand, fit_probability_bands
from services.health.domain.signals import EMPTY_SIGNALS
from services.health.outputs import churn_risk
from shared.backtest.activity import Activity
from shared.backtest.ranking import ScoredSnapshot
from shared.backtest.snapshots import Snapshot
from tests.unit.health.factories import at
from tests.unit.health.test_alerts import _synthetic

pytestmark = pytest.mark.unit


def test_probability_bands_never_rise_with_the_score_and_hold_enough_snapshots() -> None:
    rng = random.Random(1)
    points = [(s, rng.random() < (0.6 if s < 40 else 0.2 if s < 70 else 0.05)) for s in
              (rng.uniform(0, 100) for _ in range(2_000))]
    bands = fit_probability_bands(points, min_per_band=30)
    assert bands[0].min_score == 0 and len(bands) >= 3
    assert all(b.min_score > a.min_score and b.probability <= a.probability for a, b in pairwise(bands))
    assert bands[0].probability > 0.45 and bands[-1].probability < 0.1
    calibration = Calibration(bands)
    assert calibration.probability_at(0) == bands[0].probability
    assert calibration.probability_at(99) == bands[-1].probability


def test_a_book_too_small_for_two_bands_gets_one() -> None:
    assert fit_probability_bands([(50.0, True), (60.0, False), (70.0, False)], min_per_band=30) == (
        ProbabilityBand(0.0, round(1 / 3, 3)),)
    assert fit_probability_bands([]) == ()


def test_a_scorecard_carries_its_calibration_through_json_and_rejects_a_bad_one() -> None:
    raw = {**scorecard_to_json(DEFAULT_SCORECARDS["smb"]), "calibration": {
        "churn_probability": [{"min_score": 0, "probability": 0.4}, {"min_score": 68, "probability": 0.08}],
        "kind_precision": {"grade_red": 0.41}, "source": "calibrated on book.jsonl"}}
    card = validate_scorecard(raw)
    assert card.calibration is not None and card.calibration.probability_at(70) == 0.08
    assert validate_scorecard(scorecard_to_json(card)) == card
    assert "calibration" not in scorecard_to_json(DEFAULT_SCORECARDS["smb"]), "no calibration: no section"
    bad = {**raw, "calibration": {"churn_probability": [{"min_score": 10, "probability": 1.5}],
                                  "kind_precision": {"weather": 0.5}}}
    with pytest.raises(ScorecardInvalid) as problems:
        validate_scorecard(bad)
    text = "\n".join(problems.value.problems)
    assert "calibration.churn_probability[0].probability" in text and "calibration.kind_precision.weather" in text


def test_alerts_carry_the_calibrated_probability_and_the_kinds_precision() -> None:
    base = DEFAULT_SCORECARDS["enterprise"]
    card = replace(base, alerts=replace(base.alerts, grade_red_sustain_days=0), calibration=Calibration(
        (ProbabilityBand(0, 0.35), ProbabilityBand(68, 0.05)), {"grade_red": 0.42}))
    decisions = evaluate_alerts(account_id="acme", previous=None, current=_synthetic(20, 5), score_history=(),
                                open_alerts={}, signals=EMPTY_SIGNALS, scorecard=card, as_of=at(5))
    raised = decisions.raised[0]
    assert (raised.kind, raised.churn_probability, raised.kind_precision) == ("grade_red", 0.35, 0.42)
    assert churn_risk("acme", raised, emitted_at=at(5)).published()["churn_probability"] == 0.35
    uncalibrated = evaluate_alerts(account_id="acme", previous=None, current=_synthetic(20, 5), score_history=(),
                                   open_alerts={}, signals=EMPTY_SIGNALS,
                                   scorecard=replace(card, calibration=None), as_of=at(5))
    assert uncalibrated.raised[0].churn_probability is None and uncalibrated.raised[0].kind_precision is None


def _book(accounts: int = 200, seed: int = 3) -> list[ScoredSnapshot]:
    """Usage decides churn; engagement is noise. The current card weighs engagement heavily."""
    rng = random.Random(seed)
    activity = Activity(events=1, active_days=1, features=1, users=None, prior_events=1, prior_active_days=1,
                        tenure_days=100)
    rows = []
    for n in range(accounts):
        for month in range(6):
            usage, engagement = rng.uniform(0, 100), rng.uniform(0, 100)
            churned = rng.random() < (0.5 if usage < 30 else 0.03)
            risks = {"usage": 100 - usage, "engagement": 100 - engagement, "sentiment": None, "support": None,
                     "relationship": None}
            total = (usage + 3 * engagement) / 4
            rows.append(ScoredSnapshot(
                snapshot=Snapshot(f"acct-{n}", datetime(2026, month + 1, 28, tzinfo=UTC), "month-end", "smb",
                                  churned, False),
                risk=100 - total, grade="red" if total < 40 else "green" if total > 70 else "yellow",
                component_risks=risks, activity=activity))
    return rows


def test_the_fit_weighs_what_predicts_churn_and_is_judged_on_accounts_it_never_saw() -> None:
    rows = _book()
    current = {"usage": 25, "engagement": 75, "sentiment": 0, "support": 0, "relationship": 0}
    card = replace(DEFAULT_SCORECARDS["smb"], weights=current)
    weights = fit_weights(rows, current)
    assert weights["usage"] > 3 * weights["engagement"]
    result = calibrate(rows, {"smb": card, "default": DEFAULT_SCORECARDS["default"]},
                       alerts={"precision_by_kind": {"grade_red": {"precision": 0.4, "judgeable": 50},
                                                           "champion_left": {"precision": 0.0, "judgeable": 1}}},
                       folds=5, seed=0)
    smb = result["segments"]["smb"]
    assert smb["judged_out_of_fold"] == len(rows)
    assert smb["auc"]["proposed_out_of_fold"] > smb["auc"]["current_as_scored"] + 0.1
    proposed = result["proposed"]["smb"]
    assert proposed.version == card.version + 1 and proposed.calibration is not None
    assert proposed.calibration.kind_precision == {"grade_red": 0.4}, "no precision from a single alert"
    assert validate_scorecard(scorecard_to_json(proposed)) == proposed, "the proposal is a valid PUT body"
    rates = smb["churn_rate_by_grade"]["proposed_out_of_fold"]
    assert rates["red"]["churn_rate"] > 2 * rates["green"]["churn_rate"]


def test_a_segment_without_churn_keeps_its_card() -> None:
    rows = [replace(r, snapshot=replace(r.snapshot, churned=False)) for r in _book(accounts=30)]
    result = calibrate(rows, DEFAULT_SCORECARDS, alerts={}, folds=3)
    assert result["proposed"] == {} and "current card stays" in result["segments"]["smb"]["kept"]
