"""Co-partitioned topics are merged in event time within each partition group, whatever the batch size:
the runner hands a handler the same order with batches of 7 as with batches of 1000, and that order is
the merge of the whole history (`shared.alignment.align` with everything fetched).

The history is written account by account, as ingest writes what a backfill POSTs: a topic partition
then holds one account's months before the next account's, so a partition group's order depends on
the merge alone, never on which partition a fetch happened to return first."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.alignment import align
from shared.consumer import BatchContext, ConsumedEvent
from shared.runtime import Runtime
from tests.infra import Infra
from tests.integration.plumbing_harness import Setup, settings_for
from tests.integration.plumbing_service import VERSIONS, build
from tests.kafka_utils import create_topic, envelope, produce, wait_for

pytestmark = pytest.mark.integration

START = datetime(2025, 1, 1, tzinfo=UTC)
ACCOUNTS = 9


def _history(topics: Sequence[str]) -> dict[str, list[tuple[str, bytes, datetime]]]:
    """Per topic, (key, envelope, time) in the order written: account by account."""
    out: dict[str, list[tuple[str, bytes, datetime]]] = {t: [] for t in topics}
    days = {topics[0]: range(0, 60), topics[1]: (0, 10, 59), topics[2]: range(3, 60, 7)}
    for n in range(ACCOUNTS):
        account = f"acct-{n}"
        for topic in topics:
            for day in days[topic]:
                at = START + timedelta(days=day, hours=n)
                event_id = f"{topic}-{account}-{day}"
                out[topic].append((account, envelope(event_id=event_id, account_id=account, occurred_at=at), at))
    return out


async def _consume(infra: Infra, plumbing: Setup, topics: Sequence[str], batch: int,
                   expected: int) -> list[ConsumedEvent]:
    seen: list[ConsumedEvent] = []
    # A schema and a consumer group of its own per run: the first run's processed ids must not make the
    # second one skip everything as duplicates.
    run = replace(plumbing, schema=f"{plumbing.schema}_b{batch}", service=f"{plumbing.service}-b{batch}")
    service = build(run.schema, run.out_topic, emit=False)
    settings = settings_for(infra, run, consumer_max_records=batch)
    runtime = Runtime(settings, tables=service.tables, versions_dir=VERSIONS)
    await runtime.start()

    async def recording(ctx: BatchContext, events: Sequence[ConsumedEvent]) -> None:
        seen.extend(events)
        await service.handle(ctx, events)

    runner = runtime.consumer_runner(topics=list(topics), handler=recording)
    task = asyncio.create_task(runner.run())
    try:
        async def all_seen() -> bool:
            return len({(e.topic, e.offset, e.partition) for e in seen}) >= expected

        await wait_for(all_seen, timeout=120, what=f"{expected} events with batches of {batch}")
    finally:
        runner.stop()
        await task
        await runtime.close()
    return seen


def _by_group(events: Sequence[tuple[str, int, int]]) -> dict[int, list[tuple[str, int]]]:
    groups: dict[int, list[tuple[str, int]]] = {}
    for topic, partition, offset in events:
        groups.setdefault(partition, []).append((topic, offset))
    return groups


async def test_each_partition_group_is_consumed_in_the_merge_order_whatever_the_batch_size(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    topics = [f"{plumbing.in_topic}.{name}" for name in ("usage", "interaction", "contract")]
    history = _history(topics)
    for topic in topics:
        await create_topic(infra.kafka_bootstrap, topic)
        await produce(infra.kafka_bootstrap, topic, [(key, value) for key, value, _ in history[topic]])
    total = sum(len(rows) for rows in history.values())

    runs = {batch: await _consume(infra, plumbing, topics, batch, total) for batch in (1000, 7)}

    # The merge of everything, offline: what every run must have handed over, group by group.
    firsts: dict[tuple[str, int, int], ConsumedEvent] = {}
    for event in runs[1000]:
        firsts.setdefault((event.topic, event.partition, event.offset), event)
    fetched: dict[TopicPartition, list[ConsumedEvent]] = {}
    for (topic, partition, _), event in sorted(firsts.items()):  # each partition in offset order
        fetched.setdefault(TopicPartition(topic, partition), []).append(event)
    merged = align(fetched, assigned=fetched, behind=lambda tp: False, time_of=lambda e: e.parsed.occurred_at,
                   offset_of=lambda e: e.offset, topic_rank={t: n for n, t in enumerate(topics)})
    expected = _by_group([(e.topic, e.partition, e.offset) for e in merged.ready])
    written_order = {g: sorted(order) for g, order in expected.items()}  # topic by topic, offsets ascending
    assert all(expected[g] != written_order[g] for g in expected), "the merge interleaves the topics"
    for batch, seen in runs.items():
        first_time: dict[tuple[str, int, int], int] = {}
        for n, e in enumerate(seen):
            first_time.setdefault((e.topic, e.partition, e.offset), n)
        order = [key for key, _ in sorted(first_time.items(), key=lambda kv: kv[1])]
        assert _by_group(order) == expected, f"batches of {batch}: a group's order differs from the merge"
