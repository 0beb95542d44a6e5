"""The shared consumer runner and outbox against a real Kafka broker and a real PostgreSQL.

The service under test is ``plumbing_service``: it counts events per account and emits one
output event per input event through the outbox.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Sequence

import orjson
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.consumer import BatchContext, ConsumedEvent
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
    total_above,
    total_is,
)
from tests.integration.plumbing_service import VERSIONS, build
from tests.kafka_utils import committed_offsets, end_offsets, envelope, produce, read_all, wait_for

pytestmark = pytest.mark.integration


async def test_sigkill_after_db_commit_before_offset_commit_applies_each_event_once(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    events = make_events(300, 7, "crash")
    await produce(infra.kafka_bootstrap, plumbing.in_topic, events)

    crashing = start_worker(infra, plumbing, PLUMBING_CRASH="after_db_commit")
    code = await asyncio.to_thread(crashing.wait, 120)
    assert code == -signal.SIGKILL
    applied_before_crash = await total(engine, plumbing.schema)
    assert 0 < applied_before_crash < 300, "the first batch must be durable in the DB when the process dies"
    assert await committed_offsets(infra.kafka_bootstrap, plumbing.group, plumbing.in_topic) == {}

    worker = start_worker(infra, plumbing)
    try:
        await wait_for(lambda: total_is(engine, plumbing.schema, 300), timeout=90, what="all 300 events applied")
        expected = Counter(key for key, _ in events)
        assert await counts(engine, plumbing.schema) == dict(expected)

        async def all_published() -> bool:
            return len(await read_all(infra.kafka_bootstrap, plumbing.out_topic)) >= 300

        await wait_for(all_published, timeout=60, what="300 output events")
        await asyncio.sleep(1.0)  # a second copy, if there were one, would have arrived by now
        out = await read_all(infra.kafka_bootstrap, plumbing.out_topic)
        ids = [orjson.loads(r.value)["event_id"] for r in out]
        assert len(ids) == 300 and len(set(ids)) == 300
        assert {r.key.decode() for r in out} == set(expected)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 60) == 0


async def test_sigkill_after_publishing_before_deleting_the_outbox_rows_publishes_each_event_once(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    events = make_events(300, 7, "relay-crash")
    await produce(infra.kafka_bootstrap, plumbing.in_topic, events)

    crashing = start_worker(infra, plumbing, PLUMBING_CRASH="after_publish")
    assert await asyncio.to_thread(crashing.wait, 120) == -signal.SIGKILL
    async with engine.connect() as conn:
        left_behind = await conn.scalar(sa.text(f'SELECT count(*) FROM "{plumbing.schema}".outbox'))
    published = await read_all(infra.kafka_bootstrap, plumbing.out_topic)
    assert published, "the relay's first batch was committed to Kafka before the crash"
    assert left_behind, "and its rows were still in the outbox"

    worker = start_worker(infra, plumbing)
    try:
        await wait_for(lambda: total_is(engine, plumbing.schema, 300), timeout=90, what="all 300 applied")

        async def outbox_empty() -> bool:
            async with engine.connect() as conn:
                return not await conn.scalar(sa.text(f'SELECT count(*) FROM "{plumbing.schema}".outbox'))

        await wait_for(outbox_empty, timeout=60, what="the outbox to drain")
        out = await read_all(infra.kafka_bootstrap, plumbing.out_topic)
        ids = [orjson.loads(r.value)["event_id"] for r in out]
        assert len(ids) == 300 and len(set(ids)) == 300, "rows published before the crash are not sent again"
    finally:
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 60) == 0


async def test_sigterm_commits_everything_it_applied_and_loses_nothing(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    first, second = make_events(1500, 11, "term-a"), make_events(500, 11, "term-b")
    worker = start_worker(infra, plumbing)
    feeder = asyncio.create_task(produce(infra.kafka_bootstrap, plumbing.in_topic, first))
    await wait_for(lambda: total_above(engine, plumbing.schema, 200), timeout=90, what="work under way")
    worker.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(worker.wait, 60) == 0
    await feeder

    # Everything applied was committed, and nothing committed was left unapplied.
    applied = await total(engine, plumbing.schema)
    committed = await committed_offsets(infra.kafka_bootstrap, plumbing.group, plumbing.in_topic)
    assert sum(committed.values()) == applied
    async with engine.connect() as conn:
        pending = await conn.scalar(sa.text(f'SELECT count(*) FROM "{plumbing.schema}".outbox'))
    assert pending == 0, "a graceful stop drains the outbox"

    await produce(infra.kafka_bootstrap, plumbing.in_topic, second)
    worker = start_worker(infra, plumbing)
    try:
        await wait_for(lambda: total_is(engine, plumbing.schema, 2000), timeout=90, what="all 2000 events")
        assert await counts(engine, plumbing.schema) == dict(Counter(k for k, _ in first + second))
    finally:
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 60) == 0


async def test_poison_messages_go_to_the_dlq_with_their_reason_and_the_rest_is_applied(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    messages = [
        ("a1", envelope(event_id="good-1", account_id="a1")),
        ("a1", b"{not json"),
        ("a1", envelope(event_id="bad-type", account_id="a1", type="usage.invented")),
        ("a1", envelope(event_id="explodes", account_id="a1", data={"feature": "explode"})),
        ("a1", envelope(event_id="good-2", account_id="a1")),
        ("a1", envelope(event_id="good-1", account_id="a1")),  # a duplicate: applied once only
    ]
    await produce(infra.kafka_bootstrap, plumbing.in_topic, messages)

    settings = settings_for(infra, plumbing)
    service = build(plumbing.schema, plumbing.out_topic)
    runtime = Runtime(settings, tables=service.tables, versions_dir=VERSIONS)
    await runtime.start()
    runner = runtime.consumer_runner(topics=[plumbing.in_topic], handler=service.handle)
    tasks = [asyncio.create_task(runner.run()), asyncio.create_task(runtime.relay.run())]
    try:
        async def three_dead_letters() -> bool:
            return len(await read_all(infra.kafka_bootstrap, plumbing.dlq_topic)) >= 3

        await wait_for(three_dead_letters, timeout=60, what="3 dead letters")
        await wait_for(lambda: total_is(engine, plumbing.schema, 2), timeout=30, what="2 good events applied")
    finally:
        runner.stop()
        runtime.relay.stop()
        await asyncio.gather(*tasks)
        await runtime.close()

    dead = sorted((orjson.loads(r.value) for r in await read_all(infra.kafka_bootstrap, plumbing.dlq_topic)),
                  key=lambda d: d["offset"])
    assert [d["offset"] for d in dead] == [1, 2, 3]
    assert all(d["source_topic"] == plumbing.in_topic and d["partition"] is not None for d in dead)
    assert all(d["service"] == plumbing.service for d in dead)
    assert dead[0]["error_kind"] == "validation" and "json" in dead[0]["error"].lower()
    assert dead[0]["original"] == "{not json"
    assert dead[1]["error_kind"] == "validation" and "usage.invented" in dead[1]["error"]
    assert dead[2]["error_kind"] == "rejected" and "cannot be applied" in dead[2]["error"]
    assert orjson.loads(dead[2]["original"])["event_id"] == "explodes"
    assert await counts(engine, plumbing.schema) == {"a1": 2}
    dlq_metric = {
        kind: REGISTRY.get_sample_value("orchard_dlq_total", {"service": plumbing.service, "reason": kind})
        for kind in ("validation", "rejected")
    }
    assert dlq_metric == {"validation": 2.0, "rejected": 1.0}
    committed = await committed_offsets(infra.kafka_bootstrap, plumbing.group, plumbing.in_topic)
    assert sum(committed.values()) == len(messages), "poison does not stop the offsets from moving on"


async def test_the_runner_says_when_it_has_caught_up_with_its_partitions(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    await produce(infra.kafka_bootstrap, plumbing.in_topic, make_events(1000, 5, "backlog"))
    service = build(plumbing.schema, plumbing.out_topic, emit=False)
    runtime = Runtime(settings_for(infra, plumbing), tables=service.tables, versions_dir=VERSIONS)
    await runtime.start()
    seen_during_backlog: list[bool] = []

    async def observing(ctx: BatchContext, events: Sequence[ConsumedEvent]) -> None:
        seen_during_backlog.append(runner.caught_up)
        await service.handle(ctx, events)

    runner = runtime.consumer_runner(topics=[plumbing.in_topic], handler=observing)
    task = asyncio.create_task(runner.run())
    try:
        await wait_for(lambda: total_is(engine, plumbing.schema, 1000), timeout=60, what="the backlog applied")

        async def caught_up() -> bool:
            return runner.caught_up

        await wait_for(caught_up, timeout=10, what="the runner to report it caught up")
    finally:
        runner.stop()
        await task
        await runtime.close()
    assert len(seen_during_backlog) >= 3 and not any(seen_during_backlog[:3]), "batches of 100 out of 1000"


async def test_a_rejected_event_is_not_remembered_so_its_corrected_copy_is_applied(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    async with deployed(infra, plumbing, build(plumbing.schema, plumbing.out_topic).handle):
        await produce(infra.kafka_bootstrap, plumbing.in_topic, [
            ("a1", envelope(event_id="fixable", account_id="a1", data={"feature": "explode"})),
            ("a1", envelope(event_id="fine", account_id="a1")),
        ])

        async def dead_lettered() -> bool:
            return len(await read_all(infra.kafka_bootstrap, plumbing.dlq_topic)) == 1

        await wait_for(dead_lettered, timeout=60, what="the rejected event dead-lettered")
        await wait_for(lambda: total_is(engine, plumbing.schema, 1), timeout=30, what="the other one applied")

        # Someone corrects the data at the source and sends the event again, same id.
        await produce(infra.kafka_bootstrap, plumbing.in_topic, [("a1", envelope(event_id="fixable", account_id="a1"))])
        await wait_for(lambda: total_is(engine, plumbing.schema, 2), timeout=30, what="the corrected copy applied")
    assert len(await read_all(infra.kafka_bootstrap, plumbing.dlq_topic)) == 1



async def test_records_written_in_transactions_leave_no_lag_once_applied(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    """Every Kafka transaction ends with a marker that takes an offset but is never a record: a consumer
    that committed only the offsets of records would show a lag of one on every partition forever."""
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, transactional_id=f"{plumbing.group}-tx")
    await producer.start()
    try:
        for chunk in range(3):
            async with producer.transaction():
                for key, value in make_events(20, 4, f"tx{chunk}"):
                    await producer.send(plumbing.in_topic, value=value, key=key.encode())
    finally:
        await producer.stop()
    ends = await end_offsets(infra.kafka_bootstrap, plumbing.in_topic)
    assert sum(ends.values()) > 60, "the markers take offsets of their own"
    service = build(plumbing.schema, plumbing.out_topic, emit=False)
    async with deployed(infra, plumbing, service.handle):
        await wait_for(lambda: total_is(engine, plumbing.schema, 60), timeout=60, what="the 60 events applied")

        async def no_lag() -> bool:
            committed = await committed_offsets(infra.kafka_bootstrap, plumbing.group, plumbing.in_topic)
            return all(committed.get(p, 0) >= end for p, end in ends.items())

        await wait_for(no_lag, timeout=20, what="committed offsets at the end of every partition")
