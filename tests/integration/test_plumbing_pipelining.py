"""The runner's pipelining (shared/consumer.py): batch N+1 is fetched and parsed, and its transaction
runs, while batch N's offsets are committed. What must not move: a batch's offsets are committed only
once its transaction is durable, one commit at a time and in batch order, and a crash with batches
durable but their offsets not committed replays them without counting anything twice."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from aiokafka import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.consumer import BatchContext, ConsumedEvent, ConsumerRunner
from shared.runtime import Runtime
from tests.infra import Infra
from tests.integration.plumbing_harness import (
    Setup,
    counts,
    deployed,
    make_events,
    settings_for,
    start_worker,
    total,
    total_is,
)
from tests.integration.plumbing_service import VERSIONS, build
from tests.kafka_utils import committed_offsets, create_topic, end_offsets, envelope, produce, wait_for

pytestmark = pytest.mark.integration


def order_checking_runner(engine: AsyncEngine, schema: str, problems: list[str],
                          commits: list[dict[int, int]]) -> type[ConsumerRunner[Any]]:
    """A runner that, each time it is about to commit a batch's offsets, checks from another connection
    that every event of the batch is committed in processed_events, and that no other offset commit is
    under way; and records the offsets it commits."""

    class OrderChecking(ConsumerRunner[Any]):
        committing = False

        async def commit_offsets(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
            if self.committing:
                problems.append("an offset commit started before the previous one ended")
            self.committing = True
            try:
                ids = [orjson.loads(r.value or b"")["event_id"] for r in records]
                async with engine.connect() as conn:
                    durable = await conn.scalar(
                        sa.text(f'SELECT count(*) FROM "{schema}".processed_events WHERE event_id = ANY(:ids)'),
                        {"ids": ids})
                if durable != len(set(ids)):
                    problems.append(f"offsets of a batch committed with {len(set(ids)) - durable} of its "
                                    f"{len(set(ids))} events not durable")
                # Slower than a transaction here, so that a next commit not waiting for this one overlaps it.
                await asyncio.sleep(0.1)
                commits.append({r.partition: r.offset + 1 for r in sorted(records, key=lambda r: r.offset)})
                await super().commit_offsets(records)
            finally:
                self.committing = False

    return OrderChecking


async def test_offsets_are_committed_only_after_the_batch_is_durable_and_in_batch_order(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    n = 1_500
    events = make_events(n, 13, "order")
    await produce(infra.kafka_bootstrap, plumbing.in_topic, events)
    service = build(plumbing.schema, plumbing.out_topic, emit=False)

    async def slow_handler(ctx: BatchContext, batch: Sequence[ConsumedEvent]) -> None:
        await service.handle(ctx, batch)
        # Holds each transaction open long enough that an offset commit not waiting for it would run
        # (and be caught) while it is still uncommitted.
        await asyncio.sleep(0.05)

    problems: list[str] = []
    commits: list[dict[int, int]] = []
    runner_class = order_checking_runner(engine, plumbing.schema, problems, commits)
    runtime = Runtime(settings_for(infra, plumbing), tables=service.tables, versions_dir=VERSIONS,
                      runner_class=runner_class)
    await runtime.start()
    runner = runtime.consumer_runner(topics=[plumbing.in_topic], handler=slow_handler)
    task = asyncio.create_task(runner.run())
    try:
        await wait_for(lambda: total_is(engine, plumbing.schema, n), timeout=90, what=f"all {n} events applied")
        ends = {p: end for p, end in (await end_offsets(infra.kafka_bootstrap, plumbing.in_topic)).items() if end}

        async def all_committed() -> bool:
            return await committed_offsets(infra.kafka_bootstrap, plumbing.group, plumbing.in_topic) == ends

        await wait_for(all_committed, timeout=30, what="every offset committed")
    finally:
        runner.stop()
        await task
        await runtime.close()
    assert problems == []
    assert len(commits) >= n // 100, "one offset commit per batch of at most 100"
    last: dict[int, int] = {}
    for commit in commits:
        for partition, offset in commit.items():
            assert offset > last.get(partition, 0), "offsets committed out of batch order"
            last[partition] = offset
    assert await counts(engine, plumbing.schema) == dict(Counter(key for key, _ in events))


async def test_sigkill_with_a_batch_and_the_one_fetched_behind_it_durable_replays_both_once(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    events = make_events(300, 7, "ahead")
    await produce(infra.kafka_bootstrap, plumbing.in_topic, events)

    crashing = start_worker(infra, plumbing, PLUMBING_CRASH="after_next_db_commit")
    assert await asyncio.to_thread(crashing.wait, 120) == -signal.SIGKILL
    durable = await total(engine, plumbing.schema)
    assert 100 < durable <= 200, "the first batch and the one behind it (100 each) durable when the process dies"
    assert await committed_offsets(infra.kafka_bootstrap, plumbing.group, plumbing.in_topic) == {}

    worker = start_worker(infra, plumbing)
    try:
        await wait_for(lambda: total_is(engine, plumbing.schema, 300), timeout=90, what="all 300 events applied")
        await asyncio.sleep(1.0)  # a replay counting twice would have done it by now
        assert await counts(engine, plumbing.schema) == dict(Counter(key for key, _ in events))
    finally:
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 60) == 0


async def test_the_batches_handed_over_count_as_pending_for_the_scheduler_while_one_applies(
    infra: Infra, plumbing: Setup, unique: str
) -> None:
    """`settled_groups` (what the scheduled passes read: the earliest event time still to be applied per
    group read to the end) must count the batch whose transaction runs and the one parsed behind it. Were
    they missed while a pipeline step awaits, a pass would bring their accounts past their events, and
    the events would arrive late (the demo once read a healthy account red that way)."""
    topic = f"test.pending.{unique}"
    await create_topic(infra.kafka_bootstrap, topic, partitions=1)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    events = [(f"acct-{i % 3}", envelope(event_id=f"pending-{unique}-{i}", account_id=f"acct-{i % 3}",
                                         occurred_at=start + timedelta(hours=i))) for i in range(20)]
    await produce(infra.kafka_bootstrap, topic, events)
    counting = build(plumbing.schema, plumbing.out_topic)
    held, release = asyncio.Event(), asyncio.Event()

    async def first_batch_held(ctx: BatchContext, batch: Sequence[ConsumedEvent]) -> None:
        if not release.is_set():
            held.set()
            await release.wait()
        await counting.handle(ctx, batch)

    setup = Setup(plumbing.schema, topic, plumbing.out_topic, plumbing.dlq_topic, plumbing.service)
    async with deployed(infra, setup, first_batch_held, consumer_max_records=10) as (_, runner):
        try:
            await asyncio.wait_for(held.wait(), timeout=60)

            async def read_to_the_end() -> bool:
                settled = await runner.settled_groups()
                return settled is not None and 0 in settled

            await wait_for(read_to_the_end, timeout=30, what="the partition read to the end")
            for _ in range(20):  # whichever step the loop is in (parsing, awaiting the held batch)
                settled = await runner.settled_groups()
                assert settled is not None and settled[0] == start, settled
                await asyncio.sleep(0.05)
        finally:
            release.set()


async def test_a_batch_stops_counting_as_pending_once_its_transaction_commits(
    infra: Infra, engine: AsyncEngine, plumbing: Setup, unique: str
) -> None:
    """The other side of the test above: once a batch's transaction has committed, its events are applied,
    and `settled_groups` must say so at once, not when the loop next comes round (a fetch can wait
    `consumer_max_wait_ms` first). Counted as waiting meanwhile, they held their group back from a pass run
    in that moment, so what one pass did depended on when it ran (a CI run of
    tests/integration/health/test_pass_timing.py caught it; here the fetch waits 30 s to make it plain)."""
    topic = f"test.settled.{unique}"
    await create_topic(infra.kafka_bootstrap, topic, partitions=1)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    events = [(f"acct-{i % 3}", envelope(event_id=f"settled-{unique}-{i}", account_id=f"acct-{i % 3}",
                                         occurred_at=start + timedelta(hours=i))) for i in range(5)]
    await produce(infra.kafka_bootstrap, topic, events)
    setup = Setup(plumbing.schema, topic, plumbing.out_topic, plumbing.dlq_topic, plumbing.service)
    counting = build(plumbing.schema, plumbing.out_topic)
    async with deployed(infra, setup, counting.handle, consumer_max_records=10,
                        consumer_max_wait_ms=30_000) as (_, runner):
        await wait_for(lambda: total_is(engine, plumbing.schema, len(events)), timeout=60, what="the batch applied")

        async def nothing_waiting() -> bool:
            return await runner.settled_groups() == {0: None}

        await wait_for(nothing_waiting, timeout=10, what="the committed batch no longer counted as waiting")
