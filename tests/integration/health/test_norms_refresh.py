"""Cohort norms built by the scheduled pass take effect only after every point already scored (issue 7,
defect 3: a norms version in force from a midnight that some accounts had already been scored at
made those points depend on whether a batch committed before or after the build)."""

from __future__ import annotations

import asyncio

from services.health.domain import norms_effective_from
from shared.db import unit_of_work
from shared.watermarks import advance_watermarks
from tests.integration.health.harness import Health, at, healthy
from tests.kafka_utils import wait_for

BOOK = 22  # more than the smallest cohort the norms judge by (MIN_COHORT)


def _book() -> list[dict[str, object]]:
    return sorted((e for n in range(BOOK) for e in healthy(f"norms-{n:02d}").events),
                  key=lambda e: (str(e["occurred_at"]), str(e["event_id"])))


async def test_new_norms_take_effect_after_every_point_already_scored(health: Health) -> None:
    await health.apply(_book())
    report = await health.service.rescorer.rescore_due(as_of=at(200))
    assert report is not None

    versions = await health.rows("SELECT version, effective_from, accounts, norms FROM {s}.cohort_norms")
    assert len(versions) == 1 and versions[0].accounts == BOOK
    assert versions[0].norms["cohorts"], "a book this size has norms to judge by"
    (latest_point,) = (await health.rows("SELECT max(as_of) FROM {s}.score_history"))[0]
    (latest_event,) = (await health.rows("SELECT max(event_at) FROM {s}.stream_watermarks"))[0]
    effective = versions[0].effective_from
    assert effective > latest_point, "no point already scored falls under norms built after it"
    assert effective == norms_effective_from(latest_event)

    # Points from then on are scored with them: an account's usage is placed among similar accounts.
    story = healthy("norms-00")
    story.usage(61, 64, 15)
    await health.apply(story.since(len(healthy("norms-00").events)))
    reasons = await health.rows(
        "SELECT as_of, reasons FROM {s}.score_history WHERE account_id = 'norms-00' AND as_of >= :from",
        **{"from": effective})
    assert reasons and any("percentile of similar accounts" in r["detail"] for row in reasons for r in row.reasons)


async def test_a_norms_build_waits_for_a_batch_that_moves_the_stream_on(health: Health) -> None:
    await health.apply(_book())
    sessions = health.service.runtime.sessions
    table = health.service.tables.stream_watermarks
    async with unit_of_work(sessions) as batch:
        # A batch in flight has applied events of day 80 and moved the watermark, not committed yet.
        await advance_watermarks(batch, table, {0: at(80)})
        build = asyncio.create_task(health.service.rescorer.refresh_norms_if_due(at(61)))

        async def waiting_on_the_batch() -> bool:
            rows = await health.rows(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE%'"
                " AND query LIKE :table", table=f"%{health.schema}%stream_watermarks%")
            return bool(rows[0][0])

        await wait_for(waiting_on_the_batch, timeout=30, what="the norms build to wait for the batch")
        assert not build.done()
    assert await build
    (effective,) = (await health.rows("SELECT effective_from FROM {s}.cohort_norms"))[0]
    assert effective == norms_effective_from(at(80)), "built after the batch, in force after its events"
    assert (await health.rows("SELECT count(*) FROM {s}.score_history WHERE as_of >= :e", e=effective))[0][0] == 0
