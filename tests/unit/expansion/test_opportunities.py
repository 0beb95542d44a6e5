"""Opportunity episodes: deterministic ids, no re-trigger while open, the cool-down after closing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from services.expansion.domain import LatestEpisode, Thresholds, Trigger, can_move, new_opportunities, opportunity_id
from tests.unit.expansion.factories import at

pytestmark = pytest.mark.unit
T = Thresholds()
SEATS = Trigger("seat_limit", "core", "58 of 60 seats", ("e1",), Decimal("3600.00"), 0.66)


def _latest(stage: str, *, closed_day: float | None = None, uplift: str = "3600.00", episode: int = 1
            ) -> dict[tuple[str, str], LatestEpisode]:
    closed = at(closed_day) if closed_day is not None else None
    return {("seat_limit", "core"): LatestEpisode("seat_limit", "core", episode, stage, Decimal(uplift), closed)}


def test_ids_are_deterministic_per_account_kind_product_and_episode() -> None:
    first = new_opportunities("a1", [SEATS], {}, T, as_of=at(10))
    again = new_opportunities("a1", [SEATS], {}, T, as_of=at(12))
    assert [o.opportunity_id for o in first] == [o.opportunity_id for o in again]
    assert first[0].episode == 1 and first[0].opportunity_id == opportunity_id("a1", "seat_limit", "core", 1)
    assert len({opportunity_id("a1", "seat_limit", "core", 1), opportunity_id("a2", "seat_limit", "core", 1),
                opportunity_id("a1", "whitespace", "core", 1), opportunity_id("a1", "seat_limit", "core", 2)}) == 4


@pytest.mark.parametrize("stage", ["open", "qualified", "proposed"])
def test_no_re_trigger_while_open(stage: str) -> None:
    assert new_opportunities("a1", [SEATS], _latest(stage), T, as_of=at(200)) == []


@pytest.mark.parametrize("stage", ["dismissed", "lost", "won"])
def test_closed_ones_wait_out_the_cool_down(stage: str) -> None:
    latest = _latest(stage, closed_day=10)
    assert new_opportunities("a1", [SEATS], latest, T, as_of=at(10 + 89)) == []
    [reraised] = new_opportunities("a1", [SEATS], latest, T, as_of=at(10 + 90))
    assert reraised.episode == 2 and reraised.opportunity_id == opportunity_id("a1", "seat_limit", "core", 2)


def test_a_clearly_stronger_signal_comes_back_inside_the_cool_down() -> None:
    latest = _latest("dismissed", closed_day=10, uplift="2000")
    stronger = Trigger("seat_limit", "core", "70 of 60 seats", ("e2",), Decimal("3000.00"), 1.0)
    slightly = Trigger("seat_limit", "core", "59 of 60 seats", ("e2",), Decimal("2999.99"), 0.7)
    assert [o.episode for o in new_opportunities("a1", [stronger], latest, T, as_of=at(20))] == [2]
    assert new_opportunities("a1", [slightly], latest, T, as_of=at(20)) == []
    assert new_opportunities("a1", [stronger], latest, Thresholds(reraise_uplift_factor=Decimal(2)), as_of=at(20)) == []


def test_stage_transitions() -> None:
    assert can_move("open", "qualified") and can_move("qualified", "proposed") and can_move("proposed", "won")
    assert can_move("open", "dismissed") and can_move("won", "won")
    assert not can_move("won", "open") and not can_move("dismissed", "qualified") and not can_move("proposed", "open")


def test_cool_down_is_measured_in_event_time_against_closing() -> None:
    latest = _latest("lost", closed_day=100)
    assert new_opportunities("a1", [SEATS], latest, Thresholds(cooldown_days=0), as_of=at(100)) != []
    assert new_opportunities("a1", [SEATS], latest, T, as_of=at(100) + timedelta(days=90)) != []
