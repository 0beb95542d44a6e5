"""revenue_health_divergence: ARR up while health falls (and the reverse) over the window, judged
in event time; one raise and one resolve per episode with deterministic ids; and the many cases
that must not fire."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

from services.expansion.domain import (
    Decided,
    Thresholds,
    signals_from_json,
    signals_to_json,
)
from services.expansion.domain.divergence import DivergenceAlert, alert_id
from services.expansion.domain.health_gate import EMPTY_GATE, apply_gate_event
from services.expansion.outputs import divergence_alert
from shared.events import ChurnRiskAlert
from tests.unit.expansion.factories import Story, at, decide_story, default_catalogue

pytestmark = pytest.mark.unit
CATALOGUE = default_catalogue()
T = Thresholds()


def _decide(story: Story, *, chunk: int | None = None) -> Decided:
    """The story folded in event time, in one call or in chunks of `chunk` events (batches)."""
    return decide_story(story, chunk=chunk, catalogue=CATALOGUE, thresholds=T)


def _alerts(story: Story) -> list[DivergenceAlert]:
    return list(_decide(story).alerts)


def _growing_while_falling(account: str = "a", *, grade: str = "yellow", score: float = 55) -> Story:
    story = Story(account)
    story.contract(0, arr="60000")
    story.health(1, "green", 80)
    story.contract(40, arr="75000", seats=12, event_type="contract.amended")
    story.health(50, grade, score)
    return story


def test_arr_up_while_health_falls_raises_once_with_reasons_and_evidence() -> None:
    story = _growing_while_falling()
    [raised] = _alerts(story)
    assert (raised.action, raised.direction, raised.severity, raised.at) == ("raised", "arr_up_health_down", "medium",
                                                                            at(50))
    assert raised.alert_id == alert_id("a", 1) and raised.episode == 1
    assert (raised.score, raised.previous_score, raised.grade) == (55, 80, "yellow")
    arr, health = raised.reasons[1], raised.reasons[2]
    assert arr.detail == f"ARR rose from 60000 to 75000 USD since {at(0).date().isoformat()}" and arr.delta == 25.0
    assert story.events[2]["event_id"] in arr.evidence_event_ids
    assert health.delta == -25 and health.evidence_event_ids == (story.events[1]["event_id"],
                                                                 story.events[3]["event_id"])
    record = divergence_alert(raised, emitted_at=at(60))
    assert ChurnRiskAlert.model_validate(record.model_dump()).kind == "revenue_health_divergence"
    assert record.type == "churn_risk.raised" and str(record.arr_at_risk) == "75000"


def test_a_red_account_is_high_severity() -> None:
    [raised] = _alerts(_growing_while_falling(grade="red", score=30))
    assert raised.severity == "high"


def test_resolved_once_the_growth_leaves_the_window_and_ids_are_stable_across_batches() -> None:
    story = _growing_while_falling()
    story.add(200, "usage.recorded", {"user_id": "u0", "feature": "reports"})
    whole, chunked = _decide(story).alerts, _decide(story, chunk=1).alerts
    assert [(a.action, a.episode, a.at) for a in whole] == [("raised", 1, at(50)), ("resolved", 1, at(200))]
    assert [a.event_id for a in whole] == [a.event_id for a in chunked]
    assert len({a.event_id for a in whole}) == 2 and whole[1].severity == "low"


def test_arr_down_while_health_rises_is_the_reverse_signal() -> None:
    story = Story("a")
    story.contract(0, arr="60000")
    story.health(1, "yellow", 50)
    story.contract(30, arr="48000", seats=8, event_type="contract.amended")
    story.health(40, "green", 72)
    [raised] = _alerts(story)
    assert (raised.direction, raised.severity) == ("arr_down_health_up", "low")
    assert divergence_alert(raised, emitted_at=at(41)).arr_at_risk is None


@pytest.mark.parametrize(("arr", "score"), [
    ("75000", 95),  # both grow
    ("63000", 40),  # ARR +5%: under the 10% it takes
    ("75000", 70),  # health -10: under the 15 points it takes
    ("60000", 20),  # health collapses, ARR flat: health's own alerts, not a divergence
])
def test_must_not_fire(arr: str, score: float) -> None:
    story = Story("a")
    story.contract(0, arr="60000")
    story.health(1, "green", 80)
    story.contract(40, arr=arr, event_type="contract.amended")
    story.health(50, "yellow", score)
    assert _alerts(story) == []


def test_signing_is_not_growth_and_nothing_is_judged_without_health() -> None:
    new = Story("a")
    new.health(0, "green", 85)
    new.contract(5, arr="60000")
    new.health(20, "yellow", 60)
    assert _alerts(new) == [], "a new customer's first contract is its baseline"
    no_health = Story("b")
    no_health.contract(0, arr="60000")
    no_health.contract(40, arr="90000", event_type="contract.amended")
    assert _alerts(no_health) == []


def test_a_full_churn_is_not_a_divergence() -> None:
    story = Story("a")
    story.contract(0, arr="60000")
    story.health(1, "yellow", 50)
    story.add(30, "contract.cancelled", {"contract_id": "a-k1", "end_date": at(35).date().isoformat()})
    story.health(40, "green", 80)
    assert _alerts(story) == []


def test_state_round_trips_and_a_second_episode_gets_the_next_id() -> None:
    story = _growing_while_falling()
    story.health(150, "green", 90)
    story.contract(240, arr="95000", seats=15, event_type="contract.amended")
    story.health(250, "yellow", 60)
    state = _decide(story)
    assert [(a.action, a.episode) for a in state.alerts] == [("raised", 1), ("resolved", 1), ("raised", 2)]
    assert state.alerts[2].alert_id == alert_id("a", 2) != state.alerts[0].alert_id
    stored = orjson.loads(orjson.dumps(signals_to_json(state.signals)))
    assert signals_from_json(stored) == state.signals
    assert len(state.signals.divergence.health) <= T.divergence_window_days + 1


def test_a_divergence_stored_before_it_kept_whole_readings_still_loads() -> None:
    signals = _decide(_growing_while_falling()).signals
    stored = orjson.loads(orjson.dumps(signals_to_json(signals)))
    divergence = stored["divergence"]
    # As stored until now: "health": [[at, event_id, score, grade]], one a day.
    divergence["health"] = [[at_, event_id, score, grade]
                            for grade, score, at_, event_id, *_ in divergence.pop("readings")]
    loaded = signals_from_json(stored).divergence
    assert [(r.at, r.event_id, r.score, r.grade) for r in loaded.health] == \
        [(r.at, r.event_id, r.score, r.grade) for r in signals.divergence.health]
    assert [r.score for r in loaded.health] == [80, 55] and loaded.health[0].previous_score is None
    assert (loaded.arr, loaded.open, loaded.episodes) == \
        (signals.divergence.arr, signals.divergence.open, signals.divergence.episodes)


def test_its_own_alerts_do_not_shut_the_health_gate() -> None:
    [raised] = _alerts(_growing_while_falling())
    gate = apply_gate_event(EMPTY_GATE, event_type="churn_risk.raised", event_id=raised.event_id,
                            occurred_at=raised.at, record=divergence_alert(raised, emitted_at=raised.at))
    assert gate.hold_reason() is None
    assert raised.at - raised.since == timedelta(0)
