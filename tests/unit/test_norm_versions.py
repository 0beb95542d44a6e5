"""Norm versions over event time (`shared.norm_versions`): the version in force at a moment, when a
version built now takes effect, which versions are kept, and the stored JSON envelope; with both
services' norms (health's quantiles, expansion's growth ratios and volumes) through it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from services.expansion.domain import NormsHistory, build_norms, norms_from_json, norms_to_json
from services.health.domain import norms_from_json as health_norms_from_json
from services.health.domain import norms_to_json as health_norms_to_json
from services.health.domain.norms import CohortNorms as HealthNorms
from services.health.domain.norms import Norm
from shared.norm_versions import (
    VersionHistory,
    effective_from_after,
    envelope_from_json,
    envelope_to_json,
    oldest_kept,
    refresh_start,
)

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class V:
    version: int
    effective_from: datetime | None


def day(n: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=n, hours=hour)


EMPTY = V(0, None)


def test_the_version_in_force_is_the_latest_started_at_or_before_the_moment() -> None:
    history = VersionHistory([V(1, day(1)), V(2, day(5)), V(3, None), V(4, day(9))], empty=EMPTY)
    assert history.at(day(0, 23)) is EMPTY, "before the first version: none"
    assert history.at(day(1)).version == 1, "a version is in force from its very start"
    assert history.at(day(4, 23)).version == 1
    assert history.at(day(5)).version == 2
    assert history.at(day(8)).version == 2, "a version without a start is never in force by time"
    assert history.at(day(30)).version == 4
    assert history.latest_version == 4
    assert VersionHistory([], empty=EMPTY).latest_version == 0


def test_a_version_takes_effect_at_the_first_midnight_after_everything_evaluated() -> None:
    assert effective_from_after(day(3, 5), day(4, 23), day(2)) == day(5)
    assert effective_from_after(day(3)) == day(4), "an event at midnight itself was already judged"


def test_a_new_version_never_starts_before_the_latest() -> None:
    assert refresh_start(day(3), day(6)) == day(6)
    assert refresh_start(day(7), day(6)) == day(7)
    assert refresh_start(day(3), None) == day(3)


def test_retention_keeps_the_version_in_force_keep_before_the_newest_and_everything_after() -> None:
    starts = [(1, day(0)), (2, day(10)), (3, day(20)), (4, day(30))]
    assert oldest_kept(starts, newest_start=day(30), keep=timedelta(days=15)) == 2, "v2 was in force at day 15"
    assert oldest_kept(starts, newest_start=day(30), keep=timedelta(days=10)) == 3, "v3 starts exactly at day 20"
    assert oldest_kept(starts, newest_start=day(30), keep=timedelta(days=40)) is None, "nothing that old: keep all"


def test_the_envelope_round_trips_a_version_and_its_body() -> None:
    raw = envelope_to_json(7, day(2), {"cohorts": {"all": {}}})
    assert raw == {"version": 7, "effective_from": day(2).isoformat(), "cohorts": {"all": {}}}
    assert envelope_from_json(raw, lambda v, start, body: (v, start, body["cohorts"])) == (7, day(2), {"all": {}})
    undated = envelope_to_json(1, None, {})
    assert envelope_from_json(undated, lambda v, start, body: (v, start)) == (1, None)


def test_expansion_norms_round_trip_through_json_and_are_judged_by_event_time() -> None:
    built = build_norms([("-/core", 1.2), ("-/core", 0.8)], [("-/core", {"api": 30.0}), ("-/core", {"api": 0.0})],
                        version=3, effective_from=day(4))
    assert norms_from_json(norms_to_json(built)) == built
    history = NormsHistory([build_norms([], version=2, effective_from=day(1)), built])
    assert history.at(day(3, 23)).version == 2 and history.at(day(4)) == built
    assert NormsHistory().at(day(4)).levels == {}, "no version: no norms, not an error"


def test_health_norms_keep_their_stored_form() -> None:
    norms = HealthNorms(version=2, effective_from=day(1),
                        cohorts={"all": {"qty_30:api": Norm(tuple(float(q) for q in range(21)), 25, 20)}})
    raw = health_norms_to_json(norms)
    assert set(raw) == {"version", "effective_from", "cohorts"}, "rows stored before the move still load"
    assert health_norms_from_json(raw) == norms
