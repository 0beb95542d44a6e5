"""Evaluation points in event time: the same events give the same points, history and alerts however
they are batched; silence is counted at each midnight; no two alert episodes share an id."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from services.health.domain import (
    DEFAULT_SCORECARDS,
    Evaluation,
    SignalEvent,
    StoredAccount,
    advance,
    midnights,
    today_midnight,
)
from tests.unit.health.factories import History, at, healthy_account

pytestmark = pytest.mark.unit


def _run(account_id: str, events: Sequence[SignalEvent], batch: int) -> tuple[StoredAccount, list[Evaluation]]:
    account, evaluations = StoredAccount(account_id), []
    for start in range(0, len(events), batch):
        moved = advance(account, events[start:start + batch], scorecards=DEFAULT_SCORECARDS)
        account = moved.account
        evaluations.extend(moved.evaluations)
    return account, evaluations


def _outputs(evaluations: Sequence[Evaluation]) -> list[tuple[object, ...]]:
    """Everything a user can see of a run: each point's score and grade, every history entry, every
    alert decision with its ids."""
    return [
        (e.score.as_of, e.point, e.cause, e.score.total, e.score.grade, e.changed,
         tuple((d.action, d.kind, d.alert_id, d.event_id, d.severity) for d in e.decisions.decisions))
        for e in evaluations
    ]


def _turbulent(seed: int, days: int = 400) -> History:
    """A year and more of an account that collapses, recovers, loses champions and complains, at random."""
    rng = random.Random(seed)
    h = History(f"s{seed}-")
    h.contract(0, seats=30, start=0, end=days + 100)
    h.contact(0, "c-0", "champion", name="Ann")
    h.contact(0, "c-1", "exec_sponsor")
    users = 20
    for day in range(days):
        if rng.random() < 0.02:
            users = rng.choice((0, 2, 5, 20, 25))
        for u in range(users):
            if rng.random() < 0.4:
                h.usage(day + rng.random(), f"u{u}", rng.choice(("reports", "api", "alerts")))
        if rng.random() < 0.01:
            h.contact(day + 0.5, "c-0", "champion", change=rng.choice(("left", "joined")))
        if rng.random() < 0.03:
            h.survey(day + 0.6, "nps", rng.randint(0, 10))
        if rng.random() < 0.02:
            h.interaction(day + 0.7, "call", "inbound", "c-1", sentiment=rng.uniform(-1, 1))
        if rng.random() < 0.01:
            h.ticket(day + 0.3, f"t{day}", rng.choice(("normal", "urgent")))
        if rng.random() < 0.02:
            h.close(day + 0.9, f"t{day - rng.randint(0, 10)}")
    return h


@pytest.mark.parametrize("seed", [1, 2])
def test_the_same_events_in_batches_of_1_7_and_all_give_the_same_points_history_and_alerts(seed: int) -> None:
    events = _turbulent(seed, days=200).events
    runs = {batch: _run("acme", events, batch) for batch in (1, 7, len(events))}
    reference_state, reference = runs[len(events)]
    assert any(e.decisions.decisions for e in reference), "the story must raise alerts to be a test"
    for batch, (state, evaluations) in runs.items():
        assert _outputs(evaluations) == _outputs(reference), f"batches of {batch}"
        assert state == reference_state


def test_silence_is_evaluated_at_each_midnight_between_events_and_up_to_today() -> None:
    h = healthy_account(days=30)
    account, _ = _run("quiet", h.events, 500)
    last = account.last_point
    assert last is not None
    moved = advance(account, [], scorecards=DEFAULT_SCORECARDS, until=at(70))
    points = [e.score.as_of for e in moved.evaluations]
    assert points == midnights(last, at(70)) and len(points) == 40
    assert all(e.cause == "schedule" for e in moved.evaluations)
    assert moved.evaluations[-1].score.total < moved.evaluations[0].score.total - 20, "silence counts"
    # The next event after the gap passes the same midnights first: the scheduler and the event agree.
    h2 = History("late-")
    late = h2.usage(75, "u-001")
    by_event = advance(account, h2.events, scorecards=DEFAULT_SCORECARDS)
    assert [e.score.as_of for e in by_event.evaluations[:-1]] == midnights(last, at(75))
    assert by_event.evaluations[-1].point == late
    assert _outputs(by_event.evaluations[:40]) == _outputs(moved.evaluations)


def test_a_late_event_is_scored_at_the_latest_point_and_never_moves_time_back() -> None:
    h = healthy_account(days=30)
    account, _ = _run("acme", h.events, 500)
    assert account.last_point is not None
    late = History("late-")
    late.usage(10, "u-999")
    moved = advance(account, late.events, scorecards=DEFAULT_SCORECARDS)
    assert [e.score.as_of for e in moved.evaluations] == [account.last_point]


def test_the_scheduler_waits_a_grace_period_after_midnight() -> None:
    from datetime import timedelta
    now = at(10).replace(hour=0, minute=5)
    assert today_midnight(now, grace=timedelta(minutes=15)) == today_midnight(now - timedelta(days=1))
    assert today_midnight(now, grace=timedelta(minutes=1)) == now.replace(minute=0)


@pytest.mark.parametrize("seed", range(6))
def test_no_two_alert_episodes_share_an_id_over_long_random_histories(seed: int) -> None:
    events = _turbulent(seed + 10, days=500).events
    _, evaluations = _run("acme", events, 250)
    decisions = [d for e in evaluations for d in e.decisions.decisions]
    raised = [d for d in decisions if d.action == "raised"]
    assert len(raised) >= 3, "a long turbulent history must have several episodes"
    assert len({d.alert_id for d in raised}) == len(raised), "one id per episode"
    assert len({d.event_id for d in decisions}) == len(decisions), "one event id per decision"
    for d in decisions:
        if d.action != "raised":
            assert d.alert_id in {r.alert_id for r in raised}, "escalations and resolves belong to a raised episode"


def test_the_collapsing_account_of_issue_8_is_red_when_read_today_with_the_reasons_in_words() -> None:
    """50 seats, 40 users daily for 40 days, then 3, then none for 10 days; the champion left 10 days
    ago with no replacement; an urgent ticket opened 7 days ago; the executive sponsor answered NPS 2
    five days ago. Read today, five days after the last event."""
    from services.health.domain import health_now, top_reasons

    h = History("c-")
    h.contract(0, seats=50, start=0, end=300, segment="mid_market")
    h.contact(0, "champ", "champion", name="Dana")
    h.contact(0, "sponsor", "exec_sponsor", name="Lee")
    for day in range(0, 40):
        for user in range(40):
            h.usage(day + 0.3 + user / 1000, f"u{user}", ("reports", "api")[user % 2])
    for day in range(40, 50):
        for user in range(3):
            h.usage(day + 0.3 + user / 1000, f"u{user}", "reports")
    h.contact(50, "champ", "champion", change="left")
    h.ticket(53, "t-1", "urgent")
    h.survey(55, "nps", 2, contact_id="sponsor")
    account, _ = _run("collapsing", h.events, 1000)
    assert account.last_point is not None and account.last_point.date() == at(55).date()

    today = health_now(account, scorecards=DEFAULT_SCORECARDS, now=at(60))
    score = today.score
    assert score is not None and score.as_of.date() == at(60).date(), "silence since the last event counts"
    assert score.grade == "red", (score.total, score.forced_by)
    words = " | ".join(r.detail for r in top_reasons(score, 5))
    for expected in ("urgent ticket", "champion", "NPS 2", "users active on an average day fell"):
        assert expected in words, (expected, words)
    stored_view = account.score
    assert stored_view is not None and stored_view.as_of < score.as_of, "the read did not wait for the scheduler"
