"""Reading the contract's topics from outside any consumer group: a snapshot of what is there now
(the DLQ), or a live tail (the alert topics). Nothing is committed, so the services' groups and
offsets are never touched."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError

from cli.errors import CliError
from shared.kafka import partitions_of


@asynccontextmanager
async def assigned(bootstrap: str, topics: Sequence[str]
                   ) -> AsyncIterator[tuple[AIOKafkaConsumer, list[TopicPartition]]]:
    """A consumer holding every partition of `topics` (no group: nothing is committed)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="orchard-cli",
        enable_auto_commit=False,
        # The relays publish in Kafka transactions: show only what committed, as the services see it.
        isolation_level="read_committed",
        request_timeout_ms=15_000,
    )
    try:
        await consumer.start()
    except (KafkaConnectionError, KafkaError, OSError) as exc:
        await consumer.stop()
        raise CliError(f"cannot reach Kafka at {bootstrap} ({exc})",
                       hint="Is it running? `make up` starts it; ORCHARD_KAFKA_BOOTSTRAP or --kafka-bootstrap "
                            "points elsewhere.") from exc
    try:
        partitions: list[TopicPartition] = []
        for topic in topics:
            found = await partitions_of(consumer, topic)
            if not found:
                raise CliError(f"topic {topic} does not exist on {bootstrap}",
                               hint="The services create their topics when they start; ORCHARD_TOPIC_* names others.")
            partitions.extend(TopicPartition(topic, p) for p in sorted(found))
        consumer.assign(partitions)
        yield consumer, partitions
    finally:
        await consumer.stop()


async def snapshot(bootstrap: str, topic: str, *, since: datetime | None = None) -> AsyncIterator[ConsumerRecord]:
    """Every record on `topic` now (from `since` by record time, else from the beginning), in
    partition order; records produced after the call started are not waited for."""
    async with assigned(bootstrap, [topic]) as (consumer, partitions):
        ends = await consumer.end_offsets(partitions)
        if since is None:
            starts = await consumer.beginning_offsets(partitions)
        else:
            found = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in partitions})
            starts = {tp: found[tp].offset if found[tp] is not None else ends[tp] for tp in partitions}
        _seek(consumer, starts)
        pending = {tp for tp in partitions if starts[tp] < ends[tp]}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset < ends[tp]:
                        yield record
            # A transaction marker or aborted records can sit at the end: the position says when done.
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}


async def tail(bootstrap: str, topics: Sequence[str], *, from_beginning: bool,
               on_ready: Callable[[], None] | None = None) -> AsyncIterator[ConsumerRecord]:
    """Records of `topics` as they arrive, from now on (or from the beginning), until cancelled.
    `on_ready` is called once the starting offsets are fixed: from then on nothing is missed."""
    async with assigned(bootstrap, topics) as (consumer, partitions):
        starts = await (consumer.beginning_offsets if from_beginning else consumer.end_offsets)(partitions)
        _seek(consumer, starts)
        if on_ready is not None:
            on_ready()
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    yield record


def _seek(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
    """Explicit offsets, looked up first: ``seek_to_beginning``/``seek_to_end`` only request a reset,
    which can lose the race with the consumer's own reset policy on a fresh assignment."""
    for tp, offset in offsets.items():
        consumer.seek(tp, offset)
