"""The replay through the health service's code: where it evaluates, what it records."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.health.backtest.replay import default_scorecards, replay_account, scorecards_from_json
from services.health.domain import scorecard_to_json
from tests.unit.backtest.factories import at, event, term, usage_days

pytestmark = pytest.mark.unit


def _end(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T23:59:59+00:00")


def test_it_evaluates_at_each_event_time_each_midnight_and_each_snapshot() -> None:
    events = [term("contract.signed", at("2026-01-01", 9), start="2026-01-01", end="2027-01-01"),
              event("usage.recorded", at("2026-01-01", 9), {"feature": "a"}),  # same instant: one evaluation
              event("usage.recorded", at("2026-01-02", 15), {"feature": "a"})]
    replay = replay_account("acct-1", events, scorecards=default_scorecards(),
                            snapshots=[_end("2026-01-03"), _end("2025-12-31")], until=_end("2026-01-04"))
    # event times 01-01 09:00 and 01-02 15:00, midnights 01-02 .. 01-04, the snapshot of 01-03
    assert replay.evaluations == 2 + 3 + 1
    assert [s.at for s in replay.snapshot_scores] == [_end("2026-01-03")], "nothing to score before the first event"
    assert set(replay.snapshot_scores[0].components) == {"usage", "engagement", "sentiment", "support",
                                                         "relationship"}


def test_silence_counts_without_any_new_event() -> None:
    events = [term("contract.signed", at("2026-01-01", 0), start="2026-01-01", end="2027-01-01", seats=3),
              *usage_days(date(2026, 1, 1), 60, per_day=3, users=3)]
    replay = replay_account("acct-1", events, scorecards=default_scorecards(),
                            snapshots=[_end("2026-02-28"), _end("2026-05-31")], until=_end("2026-05-31"))
    active, silent = replay.snapshot_scores
    assert silent.total < active.total
    assert silent.components["usage"] is not None and active.components["usage"] is not None
    assert silent.components["usage"] < active.components["usage"]
    assert replay.alerts, "months of silence raise an alert on the scheduler's ticks alone"
    assert all(a.at > at("2026-03-01", 0) for a in replay.alerts)


def test_scorecards_from_json_replace_only_the_segments_given() -> None:
    smb = scorecard_to_json(default_scorecards()["smb"])
    smb["weights"] = {"usage": 1, "engagement": 0, "sentiment": 0, "support": 0, "relationship": 0}
    cards = scorecards_from_json({"smb": smb})
    assert cards["smb"].weights["usage"] == 1 and cards["enterprise"] == default_scorecards()["enterprise"]


def test_no_events_no_evaluation() -> None:
    replay = replay_account("acct-1", [], scorecards=default_scorecards(), snapshots=[_end("2026-01-03")],
                            until=datetime(2026, 2, 1, tzinfo=UTC) + timedelta(days=1))
    assert replay.evaluations == 0 and replay.snapshot_scores == ()


def test_an_alert_resolved_in_the_replay_carries_when() -> None:
    events = [term("contract.signed", at("2026-01-01", 0), start="2026-01-01", end="2027-01-01", seats=3),
              *usage_days(date(2026, 1, 1), 60, per_day=3, users=3),
              *usage_days(date(2026, 6, 1), 60, per_day=3, users=3)]
    replay = replay_account("acct-1", events, scorecards=default_scorecards(), snapshots=[],
                            until=_end("2026-07-31"))
    silence = [a for a in replay.alerts if a.at < at("2026-06-01", 0)]
    assert silence, "the silence of March to May raised an alert"
    resolved = [a for a in silence if a.resolved_at is not None]
    assert resolved, "usage back every day for two months resolved it"
    assert all(a.resolved_at is not None and at("2026-06-01", 0) <= a.resolved_at <= _end("2026-07-31")
               for a in resolved)
