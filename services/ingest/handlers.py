"""Ingest's handlers: how accepted events reach their canonical topics, on each way in.

- From the raw topic: the shared consumer runner parses each record with ``raw_parser`` (invalid
  ones go to the DLQ with the reason and the original bytes), records the batch's ids in
  ``processed_events`` and hands the new events to ``raw_batch_handler``, which routes them
  through the outbox in the same transaction.
- Over HTTP: ``HttpIngest.accept`` records the ids and produces the new events itself, inside one
  transaction that commits only once Kafka has acknowledged every send (acks=all): the reply
  promises durability, which the outbox (published later) could not. If Kafka fails, the
  transaction rolls back, so the client's retry is not mistaken for a duplicate.

Both ways share one ``processed_events`` table, so an id accepted one way is a duplicate the other.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.domain import Limits, Route, check_event, rejection_reason, route
from services.ingest.metrics import ACCEPTED, PRODUCE_SECONDS, REJECTED
from shared.clock import Clock, utc_now
from shared.consumer import BatchContext, BatchHandler, ConsumedEvent, Parser
from shared.db import record_processed, unit_of_work
from shared.events import Envelope, EventValidationError
from shared.outbox import OutgoingMessage
from shared.settings import TopicSettings


class ProduceFailed(Exception):
    """Kafka did not acknowledge every event of a request in time; nothing was recorded."""


def raw_parser(*, limits: Limits, clock: Clock = utc_now) -> Parser:
    """The runner's parser for the raw topic: the same rules as HTTP, the future judged against now."""

    def parse(raw: bytes) -> Envelope:
        try:
            return check_event(raw, now=clock(), limits=limits)
        except EventValidationError as exc:
            REJECTED.labels("kafka", rejection_reason(exc.errors)).inc()
            raise

    return parse


def raw_batch_handler(*, topics: TopicSettings, max_event_bytes: int) -> BatchHandler:
    """Route a batch of new raw events to their canonical topics through the outbox."""

    async def route_batch(ctx: BatchContext, events: Sequence[ConsumedEvent]) -> None:
        routed: Counter[str] = Counter()
        for event in events:
            try:
                accepted = route(event.parsed, topics=topics, max_event_bytes=max_event_bytes)
            except EventValidationError as exc:
                REJECTED.labels("kafka", rejection_reason(exc.errors)).inc()
                ctx.reject(event, str(exc))
                continue
            ctx.outbox.emit_raw(
                OutgoingMessage(topic=accepted.topic, key=accepted.key, event_id=accepted.event_id,
                                value=accepted.value)
            )
            routed[accepted.topic] += 1
        _count_when_committed(ctx.session, routed)

    return route_batch


def _count_when_committed(session: AsyncSession, routed: Counter[str]) -> None:
    # A batch rolled back on an outage is applied again later: count it once, when it commits.
    def count(_: object) -> None:
        for topic, n in routed.items():
            ACCEPTED.labels("kafka", topic).inc(n)

    sa.event.listen(session.sync_session, "after_commit", count, once=True)


class HttpIngest:
    """Accepts a request's valid events: recorded as seen and on Kafka together, or neither."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        processed_events: sa.Table,
        produce_timeout_s: float,
    ) -> None:
        self._sessions = sessions
        self._producer = producer
        self._processed_events = processed_events
        self._produce_timeout_s = produce_timeout_s

    async def accept(self, routes: Sequence[Route]) -> list[Route]:
        """Record the ids, send the new events, wait for their acks, commit. Returns the new ones.

        ``routes`` hold distinct event ids. A concurrent request carrying one of them waits on our
        row until we commit (then it sees a duplicate) or roll back (then it takes the event).
        """
        if not routes:
            return []
        async with unit_of_work(self._sessions) as session:
            new_ids = await record_processed(session, self._processed_events, [r.event_id for r in routes])
            fresh = [r for r in routes if r.event_id in new_ids]
            await self._produce(fresh)
        for topic, n in Counter(r.topic for r in fresh).items():
            ACCEPTED.labels("http", topic).inc(n)
        return fresh

    async def _produce(self, routes: Sequence[Route]) -> None:
        if not routes:
            return
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._produce_timeout_s):
                sends = [
                    await self._producer.send(
                        r.topic, value=r.value, key=r.key.encode(), headers=[("event_id", r.event_id.encode())]
                    )
                    for r in routes
                ]
                await asyncio.gather(*sends)
        except (KafkaError, TimeoutError) as exc:
            # Sends already handed to the producer may still land: the client's retry then puts a
            # second copy on the topic with the same event_id, which consumers de-duplicate.
            raise ProduceFailed(f"Kafka did not acknowledge the events: {exc!r}") from exc
        PRODUCE_SECONDS.labels("http").observe(time.perf_counter() - started)
