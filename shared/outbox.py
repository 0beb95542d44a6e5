"""The transactional outbox: events recorded with the state change, published afterwards.

Handlers never talk to Kafka. They add ``OutgoingMessage``s to the batch's ``Outbox``; the runner
writes them into the service's ``outbox`` table in the same transaction as the state change, and
the ``OutboxRelay`` publishes them and then deletes them.

Exactly once on the topic, even when a relay dies between publishing and deleting:

- One relay per schema is the leader: it holds a session-level advisory lock on its own
  connection. Others wait and take over when the leader's connection goes away.
- The leader publishes with a transactional producer (one ``transactional.id`` per schema, so a
  new leader fences an old one that is still running). Each batch of rows, in id order, goes out
  in one Kafka transaction together with the batch's last outbox id, committed as the "offset" of
  a bookkeeping consumer group on an internal progress topic.
- Only then are the rows deleted. A new leader first reads that committed id and deletes the rows
  up to it without sending them again; a batch whose Kafka transaction did not commit is aborted
  (consumers read with ``read_committed`` never see it) and sent again.

Rows go out in id order, so the events of one account reach their partition in the order they
were recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from shared.kafka import make_admin, make_producer
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
    """Publishes a schema's outbox rows to Kafka exactly once, in order, then deletes them."""

    def __init__(
        self,
        *,
        service: str,
        engine: AsyncEngine,
        table: sa.Table,
        bootstrap: str,
        progress_topic: str,
        kafka_security: Mapping[str, Any] | None = None,
        batch_size: int = 1000,
        idle_poll_s: float = 0.2,
        leader_poll_s: float = 1.0,
    ) -> None:
        self._service = service
        self._engine = engine
        self._table = table
        self._bootstrap = bootstrap
        self._kafka_security = kafka_security
        self._progress = TopicPartition(progress_topic, 0)
        self._batch_size = batch_size
        self._idle_poll_s = idle_poll_s
        self._leader_poll_s = leader_poll_s
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._name = f"{table.schema}.{table.name}"
        self._group = f"orchard-outbox-{self._name}"
        self.is_leader = False

    def notify(self) -> None:
        """Called after a transaction that wrote outbox rows commits: publish without waiting."""
        self._wakeup.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    async def run(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                async with self._engine.connect() as leadership:
                    if await self._try_lead(leadership):
                        try:
                            await self._lead(leadership)
                        finally:
                            self.is_leader = False
                            # Closing this connection (not returning it to the pool) releases the lock.
                            await leadership.invalidate()
                backoff = 0.2
            except Exception:
                log.exception("outbox relay failed; retrying", extra={"outbox": self._name, "backoff_s": backoff})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self._leader_poll_s)

    async def _try_lead(self, leadership: AsyncConnection) -> bool:
        # A session lock: held as long as this connection lives, released by Postgres if we die.
        locked = await leadership.scalar(
            sa.select(sa.func.pg_try_advisory_lock(sa.func.hashtext(f"outbox-relay:{self._name}")))
        )
        await leadership.commit()
        return bool(locked)

    async def _lead(self, leadership: AsyncConnection) -> None:
        producer = make_producer(
            self._bootstrap, client_id=f"orchard-{self._service}-relay", transactional_id=self._group,
            security=self._kafka_security,
        )
        await producer.start()  # init_transactions: fences an earlier leader and aborts its open batch
        try:
            self.is_leader = True
            await self._forget(await self._published_up_to())
            while not self._stopping.is_set():
                await leadership.scalar(sa.text("SELECT 1"))  # fails if the lock's connection is gone
                await leadership.commit()
                published = await self._publish_batch(producer)
                if published < self._batch_size:
                    self._wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), timeout=self._idle_poll_s)
            # A graceful stop leaves nothing behind that it could have sent.
            while await self._publish_batch(producer) > 0:
                pass
        finally:
            await producer.stop()

    async def _published_up_to(self) -> int:
        admin = make_admin(self._bootstrap, client_id=f"orchard-{self._service}-relay", security=self._kafka_security)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(self._group, partitions=[self._progress])
        finally:
            await admin.close()
        committed = offsets.get(self._progress)
        return committed.offset - 1 if committed is not None and committed.offset > 0 else 0

    async def _forget(self, up_to_id: int) -> None:
        """Delete rows already published (by us, or by a leader that died before deleting them)."""
        if up_to_id <= 0:
            return
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(self._table).where(self._table.c.id <= up_to_id))

    async def _publish_batch(self, producer: AIOKafkaProducer) -> int:
        table = self._table
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(table.c.id, table.c.topic, table.c.key, table.c.event_id, table.c.value)
                    .order_by(table.c.id)
                    .limit(self._batch_size)
                )
            ).all()
        OUTBOX_LAG.labels(self._service).set(len(rows))
        if not rows:
            return 0
        last_id = rows[-1].id
        async with producer.transaction():
            pending = [
                await producer.send(
                    row.topic, value=row.value, key=row.key.encode(), headers=[("event_id", row.event_id.encode())]
                )
                for row in rows
            ]
            await asyncio.gather(*pending)
            position = {self._progress: OffsetAndMetadata(last_id + 1, "")}
            await producer.send_offsets_to_transaction(position, self._group)
        await self._forget(last_id)
        for topic, count in Counter(row.topic for row in rows).items():
            OUTBOX_PUBLISHED.labels(self._service, topic).inc(count)
        return len(rows)
