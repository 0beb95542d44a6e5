"""Scorecards: defaults, JSON round trip, validation messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.health.domain import (
    DEFAULT_SCORECARDS,
    ScorecardInvalid,
    scorecard_for,
    scorecard_to_json,
    validate_scorecard,
)

pytestmark = pytest.mark.unit


def _valid() -> dict[str, Any]:
    return scorecard_to_json(DEFAULT_SCORECARDS["mid_market"])


def _problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ScorecardInvalid) as caught:
        validate_scorecard(raw)
    assert isinstance(caught.value, ValueError)
    return caught.value.problems


@pytest.mark.parametrize("segment", sorted(DEFAULT_SCORECARDS))
def test_default_scorecards_round_trip_through_json(segment: str) -> None:
    card = DEFAULT_SCORECARDS[segment]
    raw = json.loads(json.dumps(scorecard_to_json(card)))
    assert validate_scorecard(raw) == card


def test_segments_weigh_differently() -> None:
    enterprise, smb = DEFAULT_SCORECARDS["enterprise"].weight_shares(), DEFAULT_SCORECARDS["smb"].weight_shares()
    assert enterprise["relationship"] > smb["relationship"] and enterprise["engagement"] > smb["engagement"]
    assert smb["usage"] > enterprise["usage"]
    assert sum(enterprise.values()) == pytest.approx(1.0)


def test_unknown_segment_falls_back_to_default() -> None:
    assert scorecard_for("public_sector").segment == "default"
    assert scorecard_for(None).segment == "default"
    assert scorecard_for("smb").segment == "smb"


def test_weights_need_not_sum_to_100() -> None:
    raw = _valid() | {"weights": {"usage": 3, "engagement": 1}}
    shares = validate_scorecard(raw).weight_shares()
    assert shares["usage"] == 0.75 and shares["engagement"] == 0.25 and shares["support"] == 0.0


def test_bad_weights_are_reported_precisely() -> None:
    raw = _valid() | {"weights": {"usage": -5, "engagement": "heavy", "vibes": 10}}
    assert _problems(raw) == [
        "weights.vibes: unknown field; expected one of usage, engagement, sentiment, support, relationship",
        "weights.usage: must be >= 0, got -5",
        "weights.engagement: must be a number, got 'heavy'",
    ]
    assert _problems(_valid() | {"weights": {"usage": 0, "support": 0}}) == [
        "weights: at least one weight must be greater than 0"
    ]
    assert _problems(_valid() | {"weights": {"usage": True}}) == ["weights.usage: must be a number, got True"]


def test_bad_thresholds_are_reported_precisely() -> None:
    raw = _valid() | {"thresholds": {"green_enter": 60, "green_exit": 65, "red_enter": 50, "red_exit": 45}}
    assert _problems(raw) == [
        "thresholds: red_exit (45) must be >= red_enter (50)",
        "thresholds: green_enter (60) must be >= green_exit (65)",
    ]
    raw = _valid() | {"thresholds": {"green_enter": 170, "green_exit": 65, "red_enter": 40}}
    assert _problems(raw) == ["thresholds.green_enter: must be <= 100, got 170", "thresholds.red_exit: required"]


def test_every_problem_is_reported_at_once() -> None:
    raw = _valid() | {
        "segment": "",
        "version": 0,
        "missing_data": "guess",
        "critical_measures": [
            {"component": "usage", "rule": "urgent_ticket_open_days", "threshold": 7, "force_grade": "red"},
            {"component": "support", "rule": "urgent_ticket_open_days", "threshold": -1, "force_grade": "blue"},
        ],
        "alerts": {"cooldown_days": 0, "score_drop": {"points": 0, "within_days": 30, "enabled": "yes"}},
        "colour": "green",
    }
    assert _problems(raw) == [
        "colour: unknown field; expected one of segment, version, weights, thresholds, missing_data, "
        "neutral_score, targets, critical_measures, alerts, calibration",
        "segment: must be a non-empty string, got ''",
        "version: must be >= 1, got 0",
        "missing_data: must be one of exclude, neutral, zero, got 'guess'",
        "critical_measures[0].component: rule urgent_ticket_open_days belongs to support, not usage",
        "critical_measures[1].threshold: must be >= 0, got -1",
        "critical_measures[1].force_grade: must be one of yellow, red, got 'blue'",
        "alerts.cooldown_days: must be >= 1, got 0",
        "alerts.score_drop.enabled: must be true or false, got 'yes'",
        "alerts.score_drop.points: must be > 0, got 0",
    ]


def test_optional_sections_take_defaults_and_alert_rules_can_be_switched_off() -> None:
    card = validate_scorecard({
        "segment": "partners",
        "weights": {"usage": 1},
        "thresholds": {"green_enter": 75, "green_exit": 70, "red_enter": 35, "red_exit": 40},
        "alerts": {"usage_decline": {"enabled": False, "pct": 50}, "score_drop": {"points": 20}},
    })
    assert card.version == 1 and card.missing_data == "exclude" and card.critical_measures == ()
    assert "usage_decline" not in card.alerts.enabled and card.alerts.usage_decline_pct == 50.0
    assert card.alerts.score_drop_points == 20.0 and card.alerts.score_drop_days == 30
    assert _problems({"segment": "x"}) == ["weights: required", "thresholds: required"]
