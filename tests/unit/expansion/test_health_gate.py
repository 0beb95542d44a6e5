"""The health gate: no upsell while an account is red or has a churn-risk alert open; held triggers
kept with why, and released (fired under the id they would have had) when the account recovers."""

from __future__ import annotations

import orjson
import pytest
from aiokafka import TopicPartition

from services.expansion.domain import (
    Decided,
    Thresholds,
    opportunity_id,
    signals_from_json,
    signals_to_json,
)
from services.expansion.inputs import parse_expansion_input
from shared.alignment import align
from shared.consumer import ConsumedEvent
from shared.events import EventValidationError
from tests.unit.expansion.factories import Story, at, decide_story, default_catalogue, upsell_story

pytestmark = pytest.mark.unit
CATALOGUE = default_catalogue()
T = Thresholds()


def _decide(story: Story, *, chunk: int | None = None) -> Decided:
    """The story folded in event time, in one call or in chunks of `chunk` events (batches)."""
    return decide_story(story, chunk=chunk, catalogue=CATALOGUE, thresholds=T)


def _kinds(state: Decided) -> set[str]:
    return {o.trigger.kind for o in state.opened}


def test_a_green_account_without_alerts_fires_as_before() -> None:
    plain = _decide(upsell_story("a"))
    green = upsell_story("a")
    green.health(0.5, "green", 82)
    gated = _decide(green)
    assert {"seat_limit", "premium_feature_use", "high_satisfaction"} <= _kinds(plain)
    assert [(o.opportunity_id, o.as_of, o.trigger.reason) for o in gated.opened] == \
        [(o.opportunity_id, o.as_of, o.trigger.reason) for o in plain.opened]
    assert gated.signals.gate.held == {}


def test_a_red_account_fires_nothing_and_holds_each_trigger_with_why() -> None:
    story = upsell_story("a")
    story.health(0.5, "red", 41)
    state = _decide(story)
    assert state.opened == ()
    held = state.signals.gate.held
    assert {"seat_limit", "premium_feature_use", "high_satisfaction"} <= {kind for kind, _ in held}
    seat = held["seat_limit", "core"]
    assert seat.held_reason == "held: the account is red (health 41, 2026-06-01)"
    assert seat.reason.startswith("10 of 10 seats active"), "what would fire now"
    assert seat.estimated_arr_uplift > 0
    assert seat.since <= seat.as_of <= at(21)


def test_recovery_releases_what_still_holds_under_the_id_it_would_have_had() -> None:
    story = upsell_story("a")
    story.health(0.5, "red", 41)
    story.health(20.5, "green", 78)
    state = _decide(story)
    seat = next(o for o in state.opened if o.trigger.kind == "seat_limit")
    assert seat.opportunity_id == opportunity_id("a", "seat_limit", "core", 1)
    assert seat.as_of == at(20.5), "fired at the recovery, in event time"
    assert seat.trigger.reason.endswith("; held from 2026-06-02 because the account is red (health 41, 2026-06-01), "
                                        "released on recovery")
    assert {"seat_limit", "premium_feature_use", "high_satisfaction"} <= _kinds(state)
    assert state.signals.gate.held == {}
    assert len(state.opened) == len({o.opportunity_id for o in state.opened}), "each fires once"


def test_a_held_trigger_whose_condition_is_gone_does_not_fire_on_recovery() -> None:
    story = upsell_story("a")
    story.health(0.5, "red", 41)
    story.health(75, "green", 78)  # 55 days after the last use: no one is active any more
    state = _decide(story)
    assert "seat_limit" not in _kinds(state) and "premium_feature_use" not in _kinds(state)
    assert state.signals.gate.held == {}


def test_yellow_is_not_held() -> None:
    story = upsell_story("a")
    story.health(0.5, "yellow", 60)
    assert "seat_limit" in _kinds(_decide(story))


def test_an_open_churn_risk_alert_holds_until_it_is_resolved() -> None:
    story = upsell_story("a")
    story.health(0.2, "green", 80)
    story.churn_risk(0.5, "alert-1", kind="usage_decline")
    story.churn_risk(5, "alert-1", action="escalated", kind="usage_decline")
    story.churn_risk(6, "alert-2", kind="renewal_at_risk")
    story.churn_risk(19, "alert-1", action="resolved", kind="usage_decline")
    held_state = _decide(story)
    assert held_state.opened == ()
    assert set(held_state.signals.gate.open_alerts) == {"alert-2"}
    assert held_state.signals.gate.held["seat_limit", "core"].held_reason == \
        "held: churn-risk alert renewal_at_risk open since 2026-06-07"

    story.churn_risk(21, "alert-2", action="resolved", kind="renewal_at_risk")
    released = _decide(story)
    seat = next(o for o in released.opened if o.trigger.kind == "seat_limit")
    assert seat.as_of == at(21) and seat.opportunity_id == opportunity_id("a", "seat_limit", "core", 1)


def test_red_and_an_alert_both_say_why() -> None:
    story = upsell_story("a")
    story.health(0.5, "red", 38.5)
    story.churn_risk(0.5, "alert-1")
    reason = _decide(story).signals.gate.held["seat_limit", "core"].held_reason
    assert reason == ("held: the account is red (health 38.5, 2026-06-01); "
                      "churn-risk alert grade_red open since 2026-06-01")


def test_holding_and_releasing_do_not_depend_on_batch_boundaries() -> None:
    story = upsell_story("a")
    story.health(0.5, "red", 41)
    story.churn_risk(3, "alert-1")
    story.churn_risk(17, "alert-1", action="resolved")
    story.health(19.5, "green", 80)
    whole = _decide(story)
    for chunk in (1, 7, 50):
        parts = _decide(story, chunk=chunk)
        assert [(o.opportunity_id, o.as_of, o.trigger.reason) for o in parts.opened] == \
            [(o.opportunity_id, o.as_of, o.trigger.reason) for o in whole.opened], chunk
        assert parts.signals.gate == whole.signals.gate


def test_the_gate_survives_the_stored_state() -> None:
    story = upsell_story("a")
    story.health(0.5, "red", 41)
    story.churn_risk(2, "alert-1")
    signals = _decide(story).signals
    assert signals.gate.held and signals.gate.open_alerts
    assert signals_from_json(orjson.loads(orjson.dumps(signals_to_json(signals)))) == signals


def test_a_gate_stored_before_it_kept_the_whole_reading_still_loads() -> None:
    story = upsell_story("a")
    story.health(0.5, "red", 41)
    stored = signals_to_json(_decide(story).signals)
    stored["gate"]["grade"] = stored["gate"]["grade"][:4]  # [grade, score, at, event_id], as stored until now
    gate = signals_from_json(orjson.loads(orjson.dumps(stored))).gate
    assert gate.grade is not None and (gate.grade.grade, gate.grade.score, gate.grade.at) == ("red", 41, at(0.5))
    assert gate.grade.previous_score is None and gate.grade.components == ()
    assert gate.hold_reason() is not None


def test_the_parser_frames_health_and_churn_records_and_rejects_bad_ones() -> None:
    story = Story("a")
    story.health(1, "red", 41)
    story.churn_risk(2, "alert-1")
    story.survey(3, "nps", 10)
    framed = [parse_expansion_input(orjson.dumps(e)) for e in story.events]
    assert [(f.type, f.account_id, f.event_id) for f in framed] == \
        [(e["type"], "a", e["event_id"]) for e in story.events]
    bad = {**story.events[0], "grade": "purple"}
    with pytest.raises(EventValidationError):
        parse_expansion_input(orjson.dumps(bad))


def test_a_health_record_follows_the_input_it_ties_with_whatever_its_id() -> None:
    """The runner's merge puts the input topics first at equal times (expansion lists them first), and
    the handler keeps the order consumed."""
    story = Story("a")
    usage_id = story.feature(range(1, 2), "reports")[0]
    story.health(1.5, "red", 41)
    health = {**story.events[1], "event_id": "0-sorts-first"}
    usage_tp, health_tp = TopicPartition("usage", 0), TopicPartition("account-health", 0)
    fetched = {tp: [ConsumedEvent(parse_expansion_input(raw), tp.topic, 0, 0, raw)]
               for tp, raw in ((health_tp, orjson.dumps(health)), (usage_tp, orjson.dumps(story.events[0])))}
    assert fetched[usage_tp][0].parsed.occurred_at == fetched[health_tp][0].parsed.occurred_at
    merged = align(fetched, assigned=fetched, behind=lambda tp: False, time_of=lambda e: e.parsed.occurred_at,
                   offset_of=lambda e: e.offset, topic_rank={"usage": 0, "account-health": 3})
    assert [e.parsed.event_id for e in merged.ready] == [usage_id, "0-sorts-first"]
