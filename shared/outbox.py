"""The transactional outbox: events recorded with the state change, published afterwards.

Handlers never talk to Kafka. They add ``OutgoingMessage``s to the batch's ``Outbox``; the runner
writes them into the service's ``outbox`` table in the same transaction as the state change, and
the ``OutboxRelay`` publishes them (idempotent producer, acks=all) and then deletes them.

Ordering: one relay at a time publishes for a schema (a transaction-level advisory lock), rows go
out in id order, so the events of one account reach their partition in the order they were
recorded. Other instances' relays stand by and take over when the holder dies.

Delivery: a crash after the send and before the delete publishes those rows again with the same
``event_id`` (at-least-once on the topic, exactly-once in meaning); consumers de-duplicate on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import unit_of_work
from shared.metrics import OUTBOX_LAG, OUTBOX_PUBLISHED

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    topic: str
    key: str
    event_id: str
    value: bytes


@dataclass
class Outbox:
    """The messages one unit of work will emit."""

    messages: list[OutgoingMessage] = field(default_factory=list)

    def emit(self, *, topic: str, key: str, event: BaseModel) -> None:
        """Record an output event (a pydantic model with an ``event_id``)."""
        event_id = str(getattr(event, "event_id"))  # noqa: B009 - every output model has one
        self.messages.append(
            OutgoingMessage(topic=topic, key=key, event_id=event_id, value=event.model_dump_json().encode())
        )

    def emit_raw(self, message: OutgoingMessage) -> None:
        self.messages.append(message)


async def write_outbox(session: AsyncSession, table: sa.Table, messages: Sequence[OutgoingMessage]) -> None:
    """Insert the batch's messages in one statement (arrays unnested server-side), in emission order."""
    if not messages:
        return
    stmt = sa.text(
        f'INSERT INTO "{table.schema}"."{table.name}" (topic, key, event_id, value) '
        "SELECT topic, key, event_id, value FROM unnest(CAST(:topics AS text[]), CAST(:keys AS text[]), "
        "CAST(:ids AS text[]), CAST(:values AS bytea[])) WITH ORDINALITY AS m(topic, key, event_id, value, n) "
        "ORDER BY n"
    )
    await session.execute(
        stmt,
        {
            "topics": [m.topic for m in messages],
            "keys": [m.key for m in messages],
            "ids": [m.event_id for m in messages],
            "values": [m.value for m in messages],
        },
    )


def json_bytes(payload: object) -> bytes:
    return orjson.dumps(payload)


class OutboxRelay:
    """Publishes a schema's outbox rows to Kafka, in order, then deletes them."""

    def __init__(
        self,
        *,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        table: sa.Table,
        producer: AIOKafkaProducer,
        batch_size: int = 1000,
        idle_poll_s: float = 0.2,
    ) -> None:
        self._service = service
        self._sessions = sessions
        self._table = table
        self._producer = producer
        self._batch_size = batch_size
        self._idle_poll_s = idle_poll_s
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._lock_key = f"outbox-relay:{table.schema}.{table.name}"

    def notify(self) -> None:
        """Called after a transaction that wrote outbox rows commits: publish without waiting."""
        self._wakeup.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    async def run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                published = await self.publish_once()
                backoff = 0.1
            except Exception:
                log.exception("outbox relay pass failed; retrying", extra={"backoff_s": backoff})
                published = 0
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            if published < self._batch_size:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self._idle_poll_s)
        # Drain what is left so a graceful stop leaves nothing behind that it could have sent.
        while await self.publish_once() > 0:
            pass

    async def publish_once(self) -> int:
        """Publish up to one batch; returns how many rows went out."""
        table = self._table
        async with unit_of_work(self._sessions) as session:
            locked = await session.scalar(
                sa.select(sa.func.pg_try_advisory_xact_lock(sa.func.hashtext(self._lock_key)))
            )
            if not locked:
                return 0
            rows = (
                await session.execute(
                    sa.select(table.c.id, table.c.topic, table.c.key, table.c.event_id, table.c.value)
                    .order_by(table.c.id)
                    .limit(self._batch_size)
                )
            ).all()
            OUTBOX_LAG.labels(self._service).set(len(rows))
            if not rows:
                return 0
            pending = [
                await self._producer.send(
                    row.topic,
                    value=row.value,
                    key=row.key.encode(),
                    headers=[("event_id", row.event_id.encode())],
                )
                for row in rows
            ]
            await asyncio.gather(*pending)
            await session.execute(sa.delete(table).where(table.c.id.in_([row.id for row in rows])))
            for topic, count in Counter(row.topic for row in rows).items():
                OUTBOX_PUBLISHED.labels(self._service, topic).inc(count)
            return len(rows)
