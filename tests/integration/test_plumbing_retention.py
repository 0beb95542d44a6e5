"""The runtime's pruner forgets processed ids past the service's window and keeps the rest, so a
recent redelivery is still a duplicate. Against the real broker and database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.runtime import Runtime
from tests.infra import Infra
from tests.integration.plumbing_harness import Setup, make_events, settings_for, total, total_is
from tests.integration.plumbing_service import VERSIONS, build
from tests.kafka_utils import committed_offsets, produce, wait_for

pytestmark = pytest.mark.integration


async def test_old_ids_are_pruned_recent_ones_kept_and_a_recent_redelivery_is_still_a_duplicate(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    events = make_events(30, 3, "kept")
    settings = settings_for(infra, plumbing, prune_batch_size=7)
    service = build(plumbing.schema, plumbing.out_topic, emit=False)
    runtime = Runtime(settings, tables=service.tables, versions_dir=VERSIONS)
    assert runtime.pruner.retention == timedelta(days=37), "a downstream service keeps ingest's 30 days + 7"
    await runtime.start()
    runner = runtime.consumer_runner(topics=[plumbing.in_topic], handler=service.handle)
    task = asyncio.create_task(runner.run())
    table = f'"{plumbing.schema}".processed_events'
    try:
        await produce(infra.kafka_bootstrap, plumbing.in_topic, events)
        await wait_for(lambda: total_is(engine, plumbing.schema, 30), timeout=60, what="30 events applied")
        async with engine.begin() as conn:
            # 20 ids from long ago, and one just inside the window.
            await conn.execute(sa.text(f"INSERT INTO {table} (event_id, processed_at) "
                                       "SELECT 'ancient-' || n, now() - interval '90 days' "
                                       "FROM generate_series(1, 20) AS n"))
            await conn.execute(sa.text(f"UPDATE {table} SET processed_at = now() - interval '37 days 1 minute' "
                                       "WHERE event_id IN ('kept-0', 'kept-1')"))
            await conn.execute(sa.text(f"UPDATE {table} SET processed_at = now() - interval '36 days 23 hours' "
                                       "WHERE event_id = 'kept-2'"))

        assert await runtime.pruner.prune_once() == 22  # in batches of 7
        async with engine.connect() as conn:
            left = set((await conn.scalars(sa.text(f"SELECT event_id FROM {table}"))).all())
        assert left == {f"kept-{i}" for i in range(2, 30)}

        # Kafka hands the recent events over again (a replay after a crash, or a copy routed twice).
        marker = make_events(1, 1, "marker")
        await produce(infra.kafka_bootstrap, plumbing.in_topic, [*events[2:], *marker])
        async def all_handled() -> bool:
            offsets = await committed_offsets(infra.kafka_bootstrap, plumbing.group, plumbing.in_topic)
            return sum(offsets.values()) == len(events) + len(events[2:]) + len(marker)

        await wait_for(all_handled, timeout=60, what="every record handled")
        assert await total(engine, plumbing.schema) == 31, "the recent ids were remembered: duplicates"
    finally:
        runner.stop()
        await task
        await runtime.close()
