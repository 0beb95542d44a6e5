"""What a fault test reads to judge a run: consumer-group lag, outbox backlogs, the records on a topic
(read_committed, as every consumer of Orchard reads), processed event ids."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.kafka_utils import read_all


async def end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        return dict(await consumer.end_offsets(tps)) if tps else {}
    finally:
        await consumer.stop()


async def committed_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in committed.items()}


async def group_lag(bootstrap: str, group: str, topics: Sequence[str]) -> int:
    """Records on `topics` past the group's committed offsets (a partition never committed counts whole).
    Transaction markers count too, but a caught-up runner commits its position past them when idle."""
    ends = await end_offsets(bootstrap, topics)
    done = {tp: offset for tp, offset in (await committed_offsets(bootstrap, group)).items() if offset >= 0}
    return sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items())


async def outbox_backlog(engine: AsyncEngine, schemas: Iterable[str]) -> int:
    total = 0
    async with engine.connect() as conn:
        for schema in schemas:
            total += await conn.scalar(sa.text(f'SELECT count(*) FROM "{schema}".outbox')) or 0
    return total


async def processed_ids(engine: AsyncEngine, schema: str) -> list[str]:
    async with engine.connect() as conn:
        return [row[0] for row in await conn.execute(sa.text(f'SELECT event_id FROM "{schema}".processed_events'))]


async def locate(bootstrap: str, topics: Sequence[str], ids: set[str], group: str) -> str:
    """Where the records with `ids` sit (topic, partition, offsets) beside what `group` committed there:
    a failure that says whether records were skipped or applied and forgotten."""
    found: dict[tuple[str, int], list[int]] = {}
    for topic in topics:
        for record in await read_all(bootstrap, topic):
            try:
                value = orjson.loads(record.value)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict) and value.get("event_id") in ids:
                found.setdefault((topic, record.partition), []).append(record.offset)
    done = {(tp.topic, tp.partition): offset for tp, offset in (await committed_offsets(bootstrap, group)).items()}
    return "; ".join(f"{topic}[{partition}] {len(offsets)} at {min(offsets)}..{max(offsets)} "
                     f"(committed {done.get((topic, partition))})"
                     for (topic, partition), offsets in sorted(found.items()))


async def topic_values(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every record's value on `topic` that is a JSON object, parsed, as a read_committed consumer sees
    them (a poison record a test put there is left out)."""
    values = []
    for record in await read_all(bootstrap, topic):
        try:
            value = orjson.loads(record.value)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            values.append(value)
    return values


async def eventually(what: str, predicate: Callable[[], Awaitable[bool]], *, timeout: float,
                     every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await predicate():
                return
        except (KafkaError, OSError, sa.exc.DBAPIError):
            pass  # the broker or the database is down on purpose: ask again
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


async def settled(
    *, bootstrap: str, engine: AsyncEngine, groups: dict[str, Sequence[str]], schemas: Sequence[str],
    outputs: Sequence[str], timeout: float, quiet_s: float = 5.0,
) -> None:
    """Wait until every group has consumed its topics, every outbox is empty, and the output topics
    have not grown for `quiet_s` (the health scheduler's pass after the stream ends writes more)."""
    last: dict[TopicPartition, int] = {}
    since = time.monotonic()

    async def done() -> bool:
        nonlocal last, since
        for group, topics in groups.items():
            if await group_lag(bootstrap, group, topics):
                since = time.monotonic()
                return False
        if await outbox_backlog(engine, schemas):
            since = time.monotonic()
            return False
        now = await end_offsets(bootstrap, outputs)
        if now != last:
            last, since = now, time.monotonic()
            return False
        return time.monotonic() - since >= quiet_s

    await eventually("the stream to be consumed and the outputs to settle", done, timeout=timeout)


async def drop_schemas(engine: AsyncEngine, schemas: Iterable[str]) -> None:
    async with engine.begin() as conn:
        for schema in schemas:
            await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
