"""The shell's pure helpers: one account's evaluation, its stored state, its output events, cursors."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.health.domain import (
    DEFAULT_SCORECARDS,
    AlertState,
    Evaluation,
    StoredAccount,
    advance,
    alert_state_from_json,
    alert_state_to_json,
    evaluate,
    keep_recent,
    recent_scores_from_json,
    recent_scores_to_json,
)
from services.health.outputs import output_events
from services.health.queries import sort_value_from_json, sort_value_to_json
from shared.settings import TopicSettings
from tests.unit.health.factories import at, healthy_account

pytestmark = pytest.mark.unit

TOPICS = TopicSettings()


def _stored(account_id: str, evaluation: Evaluation) -> StoredAccount:
    return StoredAccount(account_id, evaluation.signals, evaluation.score, evaluation.alert_state,
                         evaluation.recent_scores, evaluation.last_event_at)


def test_a_first_evaluation_is_a_change_with_one_health_record_and_reasons() -> None:
    h = healthy_account(days=60)
    first = evaluate(StoredAccount("a"), signals=h.signals(60), scorecards=DEFAULT_SCORECARDS, as_of=at(60),
                     cause="event", last_event_at=at(59))
    assert first.changed and first.previous is None and first.reasons
    assert first.score.segment == "enterprise" and first.score.scorecard_version == 1
    assert first.recent_scores == ((at(60), first.score.total),)
    events = list(output_events(first, topics=TOPICS, emitted_at=at(61)))
    assert [topic for topic, _ in events] == [TOPICS.account_health]
    changed = events[0][1]
    measured = {name: c.score for name, c in first.score.components.items() if c.score is not None}
    assert changed.model_dump()["components"] == measured, "unmeasured components are left out"
    assert changed.account_id == "a" and changed.occurred_at == at(60)


def test_the_same_state_and_time_give_the_same_event_ids_and_no_change_means_no_record() -> None:
    h = healthy_account(days=60)
    signals = h.signals(60)
    one = evaluate(StoredAccount("a"), signals=signals, scorecards=DEFAULT_SCORECARDS, as_of=at(60), cause="event")
    two = evaluate(StoredAccount("a"), signals=signals, scorecards=DEFAULT_SCORECARDS, as_of=at(60), cause="event")
    ids = [e.event_id for _, e in output_events(one, topics=TOPICS, emitted_at=at(61))]
    assert ids == [e.event_id for _, e in output_events(two, topics=TOPICS, emitted_at=at(99))]
    again = evaluate(_stored("a", one), signals=signals, scorecards=DEFAULT_SCORECARDS, as_of=at(60),
                     cause="schedule")
    assert not again.changed and list(output_events(again, topics=TOPICS, emitted_at=at(61))) == []


def test_as_of_never_goes_back_before_the_stored_score() -> None:
    h = healthy_account(days=60)
    now = evaluate(StoredAccount("a"), signals=h.signals(60), scorecards=DEFAULT_SCORECARDS, as_of=at(60),
                   cause="event")
    late = evaluate(_stored("a", now), signals=h.signals(60), scorecards=DEFAULT_SCORECARDS, as_of=at(30),
                    cause="event", last_event_at=at(30))
    assert late.score.as_of == at(60), "a late event is scored at the account's current as_of"
    assert late.last_event_at == at(30)


def test_silence_lowers_the_score_and_raises_alerts_that_the_state_remembers() -> None:
    h = healthy_account(days=60)
    scored = evaluate(StoredAccount("a"), signals=h.signals(60), scorecards=DEFAULT_SCORECARDS, as_of=at(60),
                      cause="event")
    moved = advance(_stored("a", scored), [], scorecards=DEFAULT_SCORECARDS, until=at(110))
    silent = moved.evaluations[-1]
    assert silent.score.total < scored.score.total - 20
    raised = [d for e in moved.evaluations for d in e.decisions.raised]
    assert raised and set(silent.alert_state.open) == {d.kind for d in raised}
    alerting = next(e for e in moved.evaluations if e.decisions.raised)
    topics = [topic for topic, _ in output_events(alerting, topics=TOPICS, emitted_at=at(110))]
    assert topics.count(TOPICS.churn_risk) == len(alerting.decisions.raised)
    restored = alert_state_from_json(alert_state_to_json(silent.alert_state))
    assert restored == silent.alert_state and restored.recent_raises


def test_alert_state_remembers_resolves_for_the_cooldown() -> None:
    state = AlertState()
    assert alert_state_from_json(alert_state_to_json(state)) == state
    assert alert_state_from_json({}) == state


def test_recent_scores_keep_the_window_and_the_highest_point_of_each_day() -> None:
    points = ((at(0), 80.0), (at(10), 90.0), (at(10.5), 70.0))
    kept = keep_recent(points, (at(31), 60.0), days=30)
    assert kept == ((at(10), 90.0), (at(31), 60.0))
    assert recent_scores_from_json(recent_scores_to_json(kept)) == kept
    assert keep_recent((), (at(1), 50.0), days=30) == ((at(1), 50.0),)
    assert keep_recent(((at(1) - timedelta(hours=1), 50.0),), (at(1), 50.0), days=30)[-1] == (at(1), 50.0)


@pytest.mark.parametrize(("sort", "value"), [("score", 72.5), ("-arr", Decimal("120000.50")),
                                             ("renewal_date", date(2027, 1, 31)), ("arr", None)])
def test_list_cursor_values_round_trip(sort: str, value: object) -> None:
    assert sort_value_from_json(sort, sort_value_to_json(sort, value)) == value


@pytest.mark.parametrize(("sort", "value"), [("score", "72"), ("score", True), ("arr", 5), ("renewal_date", "x")])
def test_list_cursor_values_of_the_wrong_kind_are_refused(sort: str, value: object) -> None:
    with pytest.raises((TypeError, ValueError, ArithmeticError)):
        sort_value_from_json(sort, value)
