"""Deciding per event (batch boundaries change nothing), and the expansion backtest on small
fixtures whose answers are counted by hand."""

from __future__ import annotations

import gzip
import json
import random
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from services.expansion.backtest.judge import RaisedTrigger, Upgrade, base_rate, judge
from services.expansion.backtest.replay import replay_account
from services.expansion.backtest.run import backtest_archive
from services.expansion.domain import Decided, ExpansionSignals, Thresholds, decide
from shared.backtest.history import read_archive
from tests.unit.expansion.factories import Story, at, default_catalogue, signal_events

pytestmark = pytest.mark.unit
CATALOGUE = default_catalogue()
T = Thresholds()


def _growing_story(account_id: str, *, upgrade_day: int | None) -> Story:
    """Daily api_calls counts (no user ids): 100 a day for 60 days, then 250 a day; an amendment
    to 15 seats on `upgrade_day`."""
    story = Story(account_id)
    story.contract(0, seats=10)
    for day in range(1, 130):
        story.add(day + 0.5, "usage.recorded", {"feature": "api_calls", "quantity": 100 if day <= 60 else 250})
        if day == upgrade_day:
            story.contract(day + 0.6, seats=15, arr="90000", event_type="contract.amended")
    return story


def _opened(events: list[list[dict[str, object]]]) -> list[tuple[str, datetime]]:
    state = Decided(ExpansionSignals())
    opened = []
    for chunk in events:
        state = decide(Decided(state.signals, state.latest), "acct", signal_events(chunk), catalogue=CATALOGUE,
                       thresholds=T)
        opened += [(o.opportunity_id, o.as_of) for o in state.opened]
    return opened


def test_what_is_decided_does_not_depend_on_batch_boundaries() -> None:
    story = _growing_story("acct", upgrade_day=None)
    story.usage(100, 110, 10)  # per-user usage as well: seat_limit on the way
    events = sorted(story.events, key=lambda e: (str(e["occurred_at"]), str(e["event_id"])))
    whole = _opened([events])
    assert {oid for oid, _ in whole} and len(whole) >= 2
    one_by_one = _opened([[e] for e in events])
    cuts = sorted(random.Random(7).sample(range(1, len(events)), 25))
    chunks = [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True)]
    assert one_by_one == whole == _opened(chunks)


def test_judge_counts_recall_and_precision_by_hand() -> None:
    d = date(2026, 1, 1).toordinal()

    def on(day: int) -> date:
        return date.fromordinal(d + day)

    def trig(account: str, kind: str, day: int) -> RaisedTrigger:
        return RaisedTrigger(account, kind, datetime.combine(on(day), datetime.min.time(), tzinfo=UTC))

    upgrades = [Upgrade("a", on(200)), Upgrade("b", on(200)), Upgrade("c", on(200)), Upgrade("d", on(50))]
    triggers = [
        trig("a", "usage_growth", 150),  # precedes a's upgrade by 50 days: a hit both ways
        trig("b", "usage_growth", 100),  # 100 days before: too early, and followed by nothing in 90 days
        trig("c", "seat_limit", 200),  # on the upgrade's own day: not before it
        trig("a", "seat_limit", 380),  # 20 days before the horizon, nothing after: not judged yet
    ]
    starts = {k: on(0) for k in "abcd"}
    report = judge(triggers, upgrades, history_start=starts, horizon=on(400), kinds=["usage_growth", "seat_limit"])
    # d's upgrade comes 50 days into its history: not judged. Judged upgrades: a, b, c.
    assert report["usage_growth"] | {} == {
        "triggers": 2, "judged_triggers": 2, "followed": 1, "precision": 0.5, "upgrades": 4,
        "judged_upgrades": 3, "preceded": 1, "recall": 0.3333, "median_lead_days": 50}
    assert report["seat_limit"]["judged_triggers"] == 1 and report["seat_limit"]["followed"] == 0
    assert report["seat_limit"]["preceded"] == 0 and report["seat_limit"]["precision"] == 0.0
    assert report["any"]["triggers"] == 4 and report["any"]["preceded"] == 1 and report["any"]["judged_triggers"] == 3
    rate = base_rate([("a", on(120)), ("a", on(300)), ("b", on(10)), ("c", on(390))], upgrades, horizon=on(400))
    assert rate == {"points": 3, "followed": 1, "rate": 0.3333}  # c at day 390 cannot be judged yet


def test_replay_raises_usage_growth_before_the_upgrade_and_again_only_after_expiry_and_cooldown() -> None:
    story = _growing_story("acct", upgrade_day=120)
    raised = replay_account("acct", signal_events(story.events), catalogue=CATALOGUE, thresholds=T, norms={})
    growth = [r for r in raised if r.kind == "usage_growth"]
    # Baseline 100 a day (days 1-36 as of day 67: the account's first days, not zeros before it);
    # day 61 is the first at 250; the 30 whole days before day 67 hold 6 x 250 + 24 x 100 = 3,900,
    # x1.3 of 3,000. Opened once: open until the upgrade on day 120 closes it as won, then cooling down.
    assert len(growth) == 1 and growth[0].at.date() == at(67).date()


def test_backtest_archive_on_a_tiny_book_with_a_known_answer(tmp_path: Path) -> None:
    grower = _growing_story("grower", upgrade_day=120)
    flat = Story("flat")
    flat.contract(0, seats=10)
    for day in range(1, 250):
        flat.add(day + 0.5, "usage.recorded", {"feature": "api_calls", "quantity": 100})
    later = Story("later")  # grows and upgrades too, but its history is too short to judge the upgrade
    later.contract(100, seats=10)
    later.add(249.5, "usage.recorded", {"feature": "api_calls", "quantity": 1})
    later.contract(150, seats=20, arr="120000", event_type="contract.amended")
    path = tmp_path / "book.jsonl.gz"
    with gzip.open(path, "wt") as out:
        for e in sorted(grower.events + flat.events + later.events, key=lambda e: str(e["occurred_at"])):
            out.write(json.dumps(e) + "\n")
    report = backtest_archive(read_archive([path]), catalogue=CATALOGUE, thresholds=T, workers=1)
    assert report["upgrades"] == 2 and report["accounts"] == 3
    growth = report["rules"]["usage_growth"]
    assert (growth["triggers"], growth["followed"], growth["judged_upgrades"], growth["preceded"]) == (1, 1, 1, 1)
    assert growth["recall"] == 1.0 and growth["precision"] == 1.0 and growth["median_lead_days"] == 120 - 67
    assert report["rules"]["any"]["triggers"] == 1  # flat usage and a short history trigger nothing
    assert set(report["baselines"]) == {"growth_top_decile", "logistic_top_decile", "any"}


def _write_book(path: Path, stories: list[Story]) -> Path:
    with gzip.open(path, "wt") as out:
        for e in sorted((e for s in stories for e in s.events), key=lambda e: str(e["occurred_at"])):
            out.write(json.dumps(e) + "\n")
    return path


def test_backtest_builds_level_norms_from_every_account_and_usage_level_precedes_the_upgrade(tmp_path: Path) -> None:
    """Ten flat accounts on core at 10, 20, ... 100 a day, and one at 80 a day that moves to 100 from
    day 100 (x1.25 at most: below usage_growth's x1.3) and upgrades on day 150. Tied with the peer at
    80 it stands at 8 of 11 (7 below, the tie and itself counting half): not the top quarter. On day
    101 its last 30 days (2,420) pass that peer's 2,400: 8.5 of 11, in the top quarter. The peers at
    90 and 100 are there from the start (and do not upgrade). Six triggers: each peer's on day 2 and
    again on day 182 (its first expired on day 92, then the 90-day cool-down), and the busy account's
    on day 101 and on day
    240 (the upgrade won it on day 150, then the cool-down). Judged: the three that 90 days of history
    follow (days 2 and 101), one of them followed by the upgrade."""
    peers = []
    for k in range(1, 11):
        peer = Story(f"p{10 * k:03d}")
        peer.contract(0, seats=10)
        for day in range(1, 250):
            peer.add(day + 0.5, "usage.recorded", {"feature": "api_calls", "quantity": 10 * k})
        peers.append(peer)
    busy = Story("busy")
    busy.contract(0, seats=10)
    for day in range(1, 250):
        busy.add(day + 0.5, "usage.recorded", {"feature": "api_calls", "quantity": 80 if day < 100 else 100})
    busy.contract(150, seats=20, arr="120000", event_type="contract.amended")
    report = backtest_archive(read_archive([_write_book(tmp_path / "book.jsonl.gz", [*peers, busy])]),
                              catalogue=CATALOGUE, thresholds=T, workers=1)
    level = report["rules"]["usage_level"]
    assert (level["triggers"], level["judged_upgrades"], level["preceded"]) == (6, 1, 1)
    assert (level["judged_triggers"], level["followed"], level["median_lead_days"]) == (3, 1, 150 - 101)
    assert report["rules"]["usage_growth"]["triggers"] == 0
    assert report["account_years"] == round(11 * 249 / 365, 1)
    assert report["triggers_per_account_year"] == round(6 / (11 * 249 / 365), 2)
