"""The transactional outbox: events recorded with the state change, published afterwards.

Handlers never talk to Kafka. They add ``OutgoingMessage``s to the batch's ``Outbox``; the runner
writes them into the service's ``outbox`` table in the same transaction as the state change, and
the ``OutboxRelay`` publishes them and then deletes them.

An outbox id is taken when a row is inserted, but transactions commit in another order: a row with
id 100 may become visible after rows 101-105 were read and sent. So the relay never acts on "every
id up to N". It acts on the exact rows it took, and it takes them in a way a new leader can
reconstruct exactly:

- One relay per schema is the leader: it holds a session-level advisory lock on its own
  connection, and does all its work on the outbox on that connection, so a leader that lost the
  lock (its connection is gone) can no longer touch the rows. Others wait and take over.
- A batch is claimed before it is sent: the leader stamps the oldest unclaimed rows (up to the
  batch size, in id order) with the next batch number and commits. A row still in flight is not
  visible, so it is not claimed; it is claimed by a later batch once it commits.
- The leader publishes the claimed rows with a transactional producer (one ``transactional.id``
  per schema, so a new leader fences an old one that is still running), in one Kafka transaction
  together with the batch number, committed as the "offset" of a bookkeeping consumer group on an
  internal progress topic. Then it deletes exactly the rows of that batch.
- A new leader first settles what the last one left: rows of batches up to the committed number
  were published, so they are deleted; rows claimed by a batch whose Kafka transaction did not
  commit (aborted by the fencing, never seen by ``read_committed`` consumers) are released and
  sent again.

The events of one account are written by transactions serialised by the account's row lock, so
within an account id order is commit order: when a row is claimed, every earlier row of its
account is visible and claimed no later. Rows go out in id order within a batch, so each account's
events reach their partition in the order they were recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from shared.kafka import make_admin, make_producer
from shared.metrics import OUTBOX_LAG, OUTBOX_PUBLISHED, observe_published

log = logging.getLogger(__name__)

_Claimed = sa.Row[tuple[int, str, str, str, bytes]]  # id, topic, key, event_id, value


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
            security=self._kafka_security, topics=[self._progress.topic],
        )
        await producer.start()  # init_transactions: fences an earlier leader and aborts its open batch
        try:
            self.is_leader = True
            batch = await self._settle(leadership, await self._committed_batch())
            while not self._stopping.is_set():
                published = await self._publish_batch(leadership, producer, batch + 1)
                if published:
                    batch += 1
                if published < self._batch_size:
                    self._wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), timeout=self._idle_poll_s)
            # A graceful stop leaves nothing behind that it could have sent.
            while await self._publish_batch(leadership, producer, batch + 1) > 0:
                batch += 1
        finally:
            await producer.stop()

    async def _committed_batch(self) -> int:
        """The number of the last batch whose Kafka transaction committed (0 if none)."""
        admin = make_admin(self._bootstrap, client_id=f"orchard-{self._service}-relay", security=self._kafka_security)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(self._group, partitions=[self._progress])
        finally:
            await admin.close()
        committed = offsets.get(self._progress)
        # A group last committed by the relay of before batches holds an outbox id: read as a batch
        # number it settles nothing (no row is claimed yet) and numbering simply continues from it.
        return committed.offset - 1 if committed is not None and committed.offset > 0 else 0

    async def _settle(self, leadership: AsyncConnection, committed: int) -> int:
        """Delete the rows of batches that were published (by a leader that died before deleting
        them) and release the rows of batches that were not; returns the last batch number."""
        table = self._table
        await leadership.execute(sa.delete(table).where(table.c.batch <= committed))
        await leadership.execute(sa.update(table).where(table.c.batch > committed).values(batch=None))
        await leadership.commit()
        return committed

    async def _publish_batch(self, leadership: AsyncConnection, producer: AIOKafkaProducer, batch: int) -> int:
        rows = await self._claim(leadership, batch)
        OUTBOX_LAG.labels(self._service).set(len(rows))
        if not rows:
            return 0
        await self._send(producer, rows, batch)
        observe_published(self._service, ((row.topic, row.value) for row in rows))
        await self.forget_published(leadership, batch)
        for topic, count in Counter(row.topic for row in rows).items():
            OUTBOX_PUBLISHED.labels(self._service, topic).inc(count)
        return len(rows)

    async def _claim(self, leadership: AsyncConnection, batch: int) -> list[_Claimed]:
        """Stamp the oldest unclaimed rows with the batch number, committed before anything is sent;
        returns them in id order. Fails if the leadership connection (and so the lock) is gone."""
        table = self._table
        oldest = sa.select(table.c.id).where(table.c.batch.is_(None)).order_by(table.c.id).limit(self._batch_size)
        claimed = (
            await leadership.execute(
                sa.update(table)
                .where(table.c.id.in_(oldest.scalar_subquery()))
                .values(batch=batch)
                .returning(table.c.id, table.c.topic, table.c.key, table.c.event_id, table.c.value)
            )
        ).all()
        await leadership.commit()
        return sorted(claimed, key=lambda row: row.id)

    async def _send(self, producer: AIOKafkaProducer, rows: Sequence[_Claimed], batch: int) -> None:
        """One Kafka transaction: the rows in order, and the batch number as the bookkeeping offset."""
        async with producer.transaction():
            pending = [
                await producer.send(
                    row.topic, value=row.value, key=row.key.encode(), headers=[("event_id", row.event_id.encode())]
                )
                for row in rows
            ]
            await asyncio.gather(*pending)
            position = {self._progress: OffsetAndMetadata(batch + 1, "")}
            await producer.send_offsets_to_transaction(position, self._group)

    async def forget_published(self, leadership: AsyncConnection, batch: int) -> None:
        """Delete exactly the rows the committed Kafka transaction carried (a crash test's subclass dies
        here instead, between the Kafka commit and the delete)."""
        table = self._table
        await leadership.execute(sa.delete(table).where(table.c.batch == batch))
        await leadership.commit()
