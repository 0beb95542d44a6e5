"""Rebalances while the runner works through a backlog, in-process against the real broker and database.

A fetch that is waiting when a rebalance starts returns the records of the new assignment once it is
complete (aiokafka waits for it), and the consumer's position has moved past them. A runner that drops
such a fetch because the assignment changed must put the position back, or the records are never
applied while later offsets are committed past them: a batch's worth lost at every rebalance (found by
tests/faults/test_pipeline_faults.py, a restarted instance losing its first batch).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.consumer import BatchContext, ConsumedEvent
from shared.kafka import make_consumer
from tests.infra import Infra
from tests.integration.plumbing_harness import Setup, counts, deployed, make_events, total
from tests.integration.plumbing_service import build
from tests.kafka_utils import produce, wait_for

pytestmark = pytest.mark.integration

EVENTS = 4000
BATCH = 20


async def _join_and_leave(infra: Infra, plumbing: Setup, name: str) -> None:
    """Another member joins the group, takes its share of the partitions, and leaves without
    committing anything: two rebalances for the runner, its share coming back from the committed offsets."""
    intruder = make_consumer(infra.kafka_bootstrap, group_id=plumbing.group, client_id=name)
    intruder.subscribe([plumbing.in_topic])
    await intruder.start()
    try:
        async def assigned() -> bool:
            await intruder.getmany(timeout_ms=100, max_records=1)
            return bool(intruder.assignment())

        await wait_for(assigned, timeout=60, what="the intruder to get partitions")
    finally:
        await intruder.stop()


async def test_rebalances_during_a_backlog_lose_no_record_and_apply_none_twice(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    events = make_events(EVENTS, 23, "rebalanced")
    await produce(infra.kafka_bootstrap, plumbing.in_topic, events)
    counting = build(plumbing.schema, plumbing.out_topic)

    async def slow(ctx: BatchContext, batch: Sequence[ConsumedEvent]) -> None:
        await asyncio.sleep(0.03)  # small batches, slowly: the backlog outlasts several rebalances
        await counting.handle(ctx, batch)

    async with deployed(infra, plumbing, slow, consumer_max_records=BATCH):
        await wait_for(lambda: _started(engine, plumbing), timeout=60, what="the runner working")
        rounds = 0
        while rounds < 4 and await total(engine, plumbing.schema) < EVENTS - 10 * BATCH:
            await _join_and_leave(infra, plumbing, f"intruder-{rounds}")
            rounds += 1
        assert rounds >= 2, "the backlog ran out before the group rebalanced twice: nothing was tested"

        applied = await _when_still(engine, plumbing)
        assert applied == EVENTS, f"{EVENTS - applied} of {EVENTS} never applied after {rounds} intrusions"
    assert await counts(engine, plumbing.schema) == dict(Counter(account for account, _ in events))


async def _when_still(engine: AsyncEngine, plumbing: Setup, *, quiet_s: float = 10.0, timeout: float = 120.0) -> int:
    """The number of events applied once all are, or once it has not moved for `quiet_s`."""
    deadline = asyncio.get_running_loop().time() + timeout
    last, since = -1, asyncio.get_running_loop().time()
    while asyncio.get_running_loop().time() < deadline:
        now = await total(engine, plumbing.schema)
        if now == EVENTS:
            return now
        if now != last:
            last, since = now, asyncio.get_running_loop().time()
        elif asyncio.get_running_loop().time() - since >= quiet_s:
            return now
        await asyncio.sleep(0.2)
    return await total(engine, plumbing.schema)


async def _started(engine: AsyncEngine, plumbing: Setup) -> bool:
    return await total(engine, plumbing.schema) > 0
