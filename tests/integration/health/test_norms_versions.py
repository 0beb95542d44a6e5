"""Cohort norm versions start in the order they were built. A pass's limit can be ahead of every point
(while the consumer has judged no group yet, the accounts of no known group go as far as the wall clock;
a quiet group is at the wall clock), so one version started at the wall clock's next midnight and the
next, built by a pass judging by the stream's watermarks, days before it: seen with the scheduler's pass
forced while a backlog was read (versions 1-2 from 2026-12-02, versions 3-6 from 2026-12-01). With
starts out of order, `NormsHistory.at` (a bisection over them) could score a point with an older version
than the newest in force there."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.health.domain import norms_effective_from
from services.health.store import load_norms
from tests.integration.health.harness import Health, at, healthy

pytestmark = pytest.mark.integration

BOOK = 22  # more than the smallest cohort the norms judge by (MIN_COHORT)
GROWN = 6  # more than a fifth more: a new version is due before the refresh interval


def _book(first: int, count: int) -> list[dict[str, object]]:
    return sorted((e for n in range(first, first + count) for e in healthy(f"versions-{n:02d}").events),
                  key=lambda e: (str(e["occurred_at"]), str(e["event_id"])))


async def test_a_version_never_starts_before_the_one_built_before_it(health: Health) -> None:
    rescorer = health.service.rescorer
    await health.apply(_book(0, BOOK))
    ahead = at(200)  # the wall clock's midnight, far past the stream (day 60)
    assert await rescorer.refresh_norms_if_due(ahead)
    await health.apply(_book(BOOK, GROWN))
    # A pass judging by the stream: its limit (day 61) is behind the first version's start.
    assert await rescorer.refresh_norms_if_due(at(61))

    versions = await health.rows("SELECT version, effective_from FROM {s}.cohort_norms ORDER BY version")
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].effective_from == norms_effective_from(ahead)
    assert versions[1].effective_from >= versions[0].effective_from
    # From its start on, the newest version is the one in force.
    async with health.service.runtime.sessions() as session:
        norms = await load_norms(session, health.service.tables)
    assert norms.at(versions[1].effective_from + timedelta(hours=1)).version == 2
