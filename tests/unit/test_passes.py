"""The shared pass skeleton: per-group limits (pure) and the loop's outcome callbacks. What a midnight is
belongs to each service's domain; here a plain UTC one, `GRACE` late."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from shared.passes import group_untils, in_group_order, run_periodically, total

pytestmark = pytest.mark.unit

GRACE = timedelta(minutes=15)
NOW = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)


def day(d: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 9, d, hour, minute, tzinfo=UTC)


def midnight(d: int) -> datetime:
    return datetime(2026, 9, d, tzinfo=UTC)


def last_midnight(at: datetime) -> datetime:
    judged = at - GRACE
    return datetime(judged.year, judged.month, judged.day, tzinfo=UTC)


def untils_of(watermarks: Mapping[int, datetime], quiet: Collection[int] = (), *,
              idle_after: timedelta | None = None, strictly_past: bool = False) -> dict[int | None, datetime]:
    return group_untils(watermarks, quiet, NOW, last_midnight=last_midnight, idle_after=idle_after,
                        strictly_past=strictly_past)


@pytest.mark.parametrize("idle_after", [None, timedelta(days=1)])
def test_each_group_stops_at_the_last_midnight_its_events_reached_less_the_grace(
    idle_after: timedelta | None,
) -> None:
    untils = untils_of({0: day(19, 10), 1: day(19, 0, 10)}, idle_after=idle_after)
    assert untils[0] == midnight(19)
    assert untils[1] == midnight(18), "00:10 is inside the 15-minute grace: that midnight waits"


@pytest.mark.parametrize("idle_after", [None, timedelta(days=1)])
def test_never_past_now_and_a_quiet_group_is_at_now(idle_after: timedelta | None) -> None:
    untils = untils_of({0: day(25), 1: day(19, 3)}, {1, 7}, idle_after=idle_after)
    assert untils[0] == midnight(20), "a watermark ahead of the clock is capped at now"
    assert untils[1] == midnight(20) and untils[7] == midnight(20)


@pytest.mark.parametrize("idle_after", [None, timedelta(days=1)])
def test_accounts_of_no_known_group_go_as_far_as_the_furthest_group(idle_after: timedelta | None) -> None:
    assert untils_of({0: day(10), 1: day(14)}, idle_after=idle_after)[None] == midnight(14)
    assert untils_of({}, idle_after=idle_after) == {None: midnight(20)}, "no event yet: the clock"


def test_without_the_idle_rule_no_group_moves_on_by_another_groups_progress() -> None:
    untils = untils_of({0: day(10), 1: day(14)}, idle_after=None)
    assert untils[0] == midnight(10)


def test_with_the_idle_rule_a_group_a_day_behind_the_busiest_moves_with_it() -> None:
    untils = untils_of({0: day(10), 1: day(14), 2: day(13, 13)}, idle_after=timedelta(days=1))
    assert untils[0] == midnight(14), "four days behind: gone quiet, it moves with the busiest"
    assert untils[2] == midnight(13), "less than a day behind: still its own pace"


def test_the_idle_rule_measures_from_the_busiest_stored_group_not_a_quiet_one() -> None:
    untils = untils_of({0: day(10), 1: day(10, 18)}, {5}, idle_after=timedelta(days=1))
    assert untils[5] == midnight(20)
    assert untils[0] == midnight(10), "a quiet group at the clock does not drag the stored groups along"


def test_strictly_past_a_group_waits_while_its_watermark_is_at_the_very_instant() -> None:
    at_the_instant = midnight(19) + GRACE
    assert untils_of({0: at_the_instant})[0] == midnight(19)
    untils = untils_of({0: at_the_instant, 1: at_the_instant + timedelta(microseconds=1)}, strictly_past=True)
    assert untils[0] == midnight(18), "an event at that instant on another topic may still wait in the merge"
    assert untils[1] == midnight(19), "a microsecond past it is past it"
    assert untils[None] == midnight(19), "accounts of no known group keep the plain limit"


def test_strictly_past_applies_to_a_quiet_group_at_the_clock_too() -> None:
    untils = group_untils({}, {3}, midnight(20) + GRACE, last_midnight=last_midnight, idle_after=None,
                          strictly_past=True)
    assert untils[3] == midnight(19) and untils[None] == midnight(20)


def test_groups_are_taken_unknown_first_then_by_number() -> None:
    untils = untils_of({3: day(19), 0: day(19), 12: day(19)})
    assert [group for group, _ in in_group_order(untils)] == [None, 0, 3, 12]


@dataclass(frozen=True)
class Report:
    accounts: int


async def test_the_loop_counts_failures_and_keeps_going() -> None:
    failures: list[None] = []
    twice = asyncio.Event()

    async def failing_pass() -> Report | None:
        raise RuntimeError("database down")

    def failed() -> None:
        failures.append(None)
        if len(failures) == 2:
            twice.set()

    task = asyncio.create_task(run_periodically(
        failing_pass, interval_s=0.001, caught_up=lambda: True, log=logging.getLogger("test"), what="test pass",
        on_failed=failed))
    await asyncio.wait_for(twice.wait(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(failures) == 2


async def test_the_loop_reports_each_pass_and_defers_while_behind() -> None:
    behind = [True, True]
    deferred: list[None] = []
    ran: list[Report | None] = []
    done = asyncio.Event()

    def caught_up() -> bool:
        return not behind.pop() if behind else True

    async def one_pass() -> Report | None:
        return None if ran else Report(accounts=3)

    def on_ran(seconds: float, report: Report | None) -> None:
        assert seconds >= 0
        ran.append(report)
        if len(ran) == 2:
            done.set()

    task = asyncio.create_task(run_periodically(
        one_pass, interval_s=0.001, caught_up=caught_up, log=logging.getLogger("test"), what="test pass",
        on_deferred=lambda: deferred.append(None), on_ran=on_ran))
    await asyncio.wait_for(done.wait(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(deferred) == 2 and ran[:2] == [Report(accounts=3), None]


def test_with_what_the_consumer_knows_only_groups_read_to_the_end_are_judged() -> None:
    """A watermark says how far a group's events have got, not that none older is still to come: a
    backfill written account by account goes back in time at every account."""
    watermarks = {0: day(19), 1: day(19), 2: day(19)}
    untils = group_untils(watermarks, (), NOW, last_midnight=last_midnight, idle_after=None, strictly_past=True,
                          settled={0: None, 1: day(3, 9)})
    assert untils[0] == midnight(19), "nothing waits in group 0: its watermark rules"
    assert untils[1] == midnight(3), "an event of the 3rd still waits in group 1: not past the 3rd's midnight"
    assert 2 not in untils, "group 2 has more on the broker (or another instance owns it): not judged"


def test_an_event_waiting_at_midnight_exactly_keeps_that_midnight() -> None:
    untils = group_untils({0: day(19)}, (), NOW, last_midnight=lambda at: at.replace(hour=0, minute=0, second=0,
                          microsecond=0), idle_after=None, strictly_past=False, settled={0: midnight(5)})
    assert untils[0] == midnight(4)


def test_without_a_consumer_every_group_is_judged_by_its_watermark() -> None:
    watermarks = {0: day(19), 1: day(12)}
    assert untils_of(watermarks, strictly_past=True) == group_untils(
        watermarks, (), NOW, last_midnight=last_midnight, idle_after=None, strictly_past=True, settled=None)


@dataclass(frozen=True)
class _Counts:
    accounts: int
    alerts: int


def test_a_pass_report_is_the_sum_of_its_parts_count_by_count() -> None:
    assert total(_Counts, [_Counts(2, 1), _Counts(3, 0), _Counts(0, 4)]) == _Counts(accounts=5, alerts=5)
    assert total(_Counts, []) == _Counts(accounts=0, alerts=0)
