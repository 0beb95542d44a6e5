"""The consumer runner: Kafka batches in, one database transaction per batch, offsets last.

For each batch (see DESIGN.md, "The consumer loop"):

1. ``getmany`` a bounded batch from the partitions this instance owns.
2. Parse every record; one that cannot be parsed becomes a dead-letter message.
3. In ONE transaction: insert the batch's event ids (and the dead-letter markers) into
   ``processed_events``; hand only the new events to the service's batch handler; write the
   handler's outgoing events and the dead letters into the outbox.
4. Commit, then commit the offsets of exactly the records of the batch, for the partitions still
   owned. A crash between the two replays the batch, and step 3 makes the replay a no-op.

Only the data's fault is dead-lettered (``shared.rejection``): a record that cannot be parsed, and
an event a handler rejects (``ctx.reject``, or raising ``EventRejected``: the work is then split,
with savepoints, until the rejected event is alone), unless the breaker finds too many. Anything
else (a bug, the breaker, an outage) rolls back, rewinds, turns ``healthy`` false (``/readyz``) and
retries with a bounded backoff until it passes; offsets never move past it (``shared.batch_failures``).

The runner's parts: ``shared.intake`` holds what was fetched until the merge across topics releases
it, ``shared.offsets`` commits a batch's offsets and an idle loop's, ``shared.dlq`` builds the dead
letters and ``shared.batch_failures`` stops, reports and retries a failing batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.abc import ConsumerRebalanceListener
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typing_extensions import TypeVar

from shared.batch_failures import BatchFailures
from shared.db import PlumbingTables, forget_processed, record_processed, unit_of_work
from shared.dlq import DeadLetter, dead_letter_marker
from shared.events import Envelope, EventValidationError
from shared.intake import Intake, first_offsets
from shared.metrics import BATCH_SECONDS, DLQ_WRITTEN, EVENTS_CONSUMED, forget_lag, observe_applied
from shared.offsets import OffsetCommits
from shared.outbox import Outbox, write_outbox
from shared.rejection import EVENT_FAULTS, RejectionBreaker

log = logging.getLogger(__name__)

class Consumable(Protocol):
    """What the runner reads of a parsed record: an input `Envelope`, or what a service's parser
    returns for the output events it reads back (renewals', expansion's, health's inbox)."""

    @property
    def event_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...


Parsed = TypeVar("Parsed", bound=Consumable, default=Envelope)
"""What a runner's parser returns and its handler gets; an input envelope unless said otherwise."""
_Parsed_co = TypeVar("_Parsed_co", bound=Consumable, default=Envelope, covariant=True)
_Parsed_contra = TypeVar("_Parsed_contra", bound=Consumable, default=Envelope, contravariant=True)


@dataclass(frozen=True, slots=True)
class ConsumedEvent(Generic[_Parsed_co]):
    """A validated event and where it came from."""

    envelope: _Parsed_co
    """The record as the runner's parser validated it (an input `Envelope` by default)."""
    topic: str
    partition: int
    offset: int
    raw: bytes


@dataclass
class BatchContext:
    """What a handler gets for one batch: the open transaction and the batch's outbox."""

    session: AsyncSession
    outbox: Outbox
    service: str
    dlq_topic: str
    rejected: list[tuple[ConsumedEvent[Consumable], str]] = field(default_factory=list)

    def reject(self, event: ConsumedEvent[Consumable], reason: str) -> None:
        """The event is well-formed but cannot be applied (a data problem): dead-letter it.
        (Raising ``EventRejected`` does the same for a handler that cannot carry on past it.)"""
        self.rejected.append((event, reason))


@dataclass(frozen=True)
class AppliedBatch:
    """What one batch's transaction did."""

    new: int
    """Events the handler applied (neither seen before nor rejected)."""
    duplicates: int
    rejected: tuple[tuple[ConsumedEvent[Consumable], str], ...]
    """Events a handler rejected, with the reason: dead-lettered."""
    written: int
    """Messages written to the outbox (emitted events and dead letters)."""


class BatchHandler(Protocol[_Parsed_contra]):
    async def __call__(self, ctx: BatchContext, events: Sequence[ConsumedEvent[_Parsed_contra]]) -> None: ...


Parser = Callable[[bytes], Parsed]
"""Validates one record (raising EventValidationError: dead-lettered), e.g. `shared.events.parse_event`."""


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ConsumerRunner[Any]) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # Wait for the batch in flight: it commits (DB, then offsets) or rolls back before we let go.
        async with self._runner._batch_lock:
            self._runner._generation += 1
            # Positions restart from the committed offsets; a partition still broken fails again where it lands.
            self._runner._offsets.forget()
            self._runner._intake.clear()
            self._runner._failures.forget()
            self._runner.caught_up = False  # what waits on the partitions it will own is not known yet
        forget_lag(self._runner._service, revoked)
        if revoked:
            log.info("partitions revoked", extra={"partitions": sorted(str(tp) for tp in revoked)})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        if assigned:
            log.info("partitions assigned", extra={"partitions": sorted(str(tp) for tp in assigned)})


class ConsumerRunner(Generic[Parsed]):
    def __init__(
        self,
        *,
        service: str,
        consumer: AIOKafkaConsumer,
        topics: Sequence[str],
        sessions: async_sessionmaker[AsyncSession],
        tables: PlumbingTables,
        handler: BatchHandler[Parsed],
        dlq_topic: str,
        parser: Parser[Parsed],
        max_records: int = 1000,
        max_wait_ms: int = 200,
        retry_backoff_max_s: float = 30.0,
        breaker: RejectionBreaker | None = None,
        on_committed: Callable[[], None] | None = None,
    ) -> None:
        self._service = service
        self._consumer = consumer
        self._topics = list(topics)
        self._sessions = sessions
        self._tables = tables
        self._handler = handler
        self._dlq_topic = dlq_topic
        self._parse = parser
        self._max_records = max_records
        self._max_wait_ms = max_wait_ms
        self._breaker = breaker or RejectionBreaker()
        self._on_committed = on_committed
        self._batch_lock = asyncio.Lock()
        self._generation = 0
        self._offsets = OffsetCommits(consumer)
        # Fetched, not yet released to the handler (the merge across topics waits for their groups).
        self._intake = Intake(consumer, service=service, topics=self._topics, max_records=max_records)
        self._stopping = asyncio.Event()
        self._failures = BatchFailures(service=service, backoff_max_s=retry_backoff_max_s)
        # False while a backlog (more than a batch) waits behind the last batch, and until the runner
        # owns partitions and has heard from the broker how far each goes. Work that judges "now"
        # (such as re-scoring silent accounts) waits for it: in a backlog, now is ahead of the events.
        self.caught_up = False
        self._started_at = time.monotonic()
        self._consuming = False
        self._in_flight: Sequence[ConsumerRecord[bytes, bytes]] = ()
        self._records_at: dict[int, float] = {}  # partition number -> when a fetch last brought records

    def quiet_partitions(self, quiet_s: float) -> set[int]:
        """The partition numbers this instance owns, while it has read everything to the end, whose
        partitions have brought no record for `quiet_s` seconds: for those, event time has caught up
        with the wall clock (a small book's quiet group, while other groups are busy, counts too)."""
        if not self.caught_up:
            return set()
        now = time.monotonic()
        return {tp.partition for tp in self._consumer.assignment()
                if now - self._records_at.get(tp.partition, self._started_at) >= quiet_s}

    async def settled_groups(self) -> dict[int, datetime | None] | None:
        """Per partition group owned and read to the end, the earliest event time still to be applied
        there (None: nothing); groups with more on the broker are left out (`Intake.settled`). None when
        this runner is not consuming (a tool or a test feeding its handler directly): nothing to go by."""
        if not self._consuming:
            return None
        return await self._intake.settled(self._in_flight)

    @property
    def healthy(self) -> bool:
        """False while a partition is stopped on a failing batch (readiness reports it)."""
        return not self._failures.stopped(self._consumer.assignment())

    def stop(self) -> None:
        """Finish the batch in flight, commit it, and leave (graceful shutdown)."""
        self._stopping.set()

    async def close(self) -> None:
        """Release the Kafka client of a runner that was built but never run (`run` releases its own
        on the way out): an unclosed client complains when it is collected."""
        await self._consumer.stop()

    async def run(self) -> None:
        self._consumer.subscribe(self._topics, listener=_Rebalance(self))
        await self._consumer.start()
        self._consuming = True
        try:
            await self._loop()
        finally:
            self._consuming = False
            forget_lag(self._service, self._consumer.assignment())
            await self._consumer.stop()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            generation = self._generation
            self._intake.pause_full()
            fetch = asyncio.ensure_future(
                self._consumer.getmany(timeout_ms=self._max_wait_ms, max_records=self._max_records)
            )
            stop = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({fetch, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not fetch.done():
                fetch.cancel()
                break
            fetched = fetch.result()
            async with self._batch_lock:
                if generation != self._generation:
                    await self._intake.put_back(fetched)
                    continue
                if fetched:
                    self._records_at.update(dict.fromkeys({tp.partition for tp in fetched}, time.monotonic()))
                    self._intake.add(fetched)
                records = await self._intake.release()
                if not records:
                    if not fetched:
                        self.caught_up = not await self._intake.behind()
                        await self._offsets.commit_drained(self._intake.held_partitions())
                    continue
                batch = first_offsets(records)
                self._in_flight = records
                try:
                    await self.process(records)
                except Exception as exc:
                    self._failures.failed(exc, batch)
                    self._intake.rewind(records)
                else:
                    self._failures.passed(set(batch))
                    self.caught_up = not await self._intake.behind()
                    continue
                finally:
                    self._in_flight = ()
            await self._failures.wait(self._stopping)

    async def process(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply one batch durably, then commit its offsets."""
        if not records:
            return
        started = time.perf_counter()
        events: list[ConsumedEvent[Parsed]] = []
        poison: list[DeadLetter] = []
        for record in records:
            raw = record.value or b""
            try:
                envelope = self._parse(raw)
            except EventValidationError as exc:
                poison.append(DeadLetter.of_record(record, str(exc), "validation"))
                continue
            events.append(ConsumedEvent(envelope, record.topic, record.partition, record.offset, raw))

        applied = await self._transaction(events, poison, batch=len(records))
        BATCH_SECONDS.labels(self._service).observe(time.perf_counter() - started)
        await self.commit_offsets(records)
        if applied.written and self._on_committed is not None:
            self._on_committed()

    async def apply_batch(self, events: Sequence[ConsumedEvent[Parsed]]) -> AppliedBatch:
        """Apply already parsed events as one batch, as a fetched batch is (processed ids, the handler on
        the new ones, rejections dead-lettered, outbox, one transaction), without Kafka: no fetch and no
        offsets. The seam for tests and tools that drive a service's handler directly; the relay is
        woken as after a batch."""
        applied = await self._transaction(list(events), [], batch=len(events))
        if applied.written and self._on_committed is not None:
            self._on_committed()
        return applied

    async def _transaction(
        self, events: list[ConsumedEvent[Parsed]], poison: list[DeadLetter], *, batch: int
    ) -> AppliedBatch:
        """The batch in one transaction: ids recorded, new events handled, outbox written."""
        outbox = Outbox()
        rejected: list[tuple[ConsumedEvent[Consumable], str]] = []
        async with unit_of_work(self._sessions) as session:
            keys = [e.envelope.event_id for e in events] + [p.marker for p in poison]
            new_ids = await record_processed(session, self._tables.processed_events, keys)
            fresh: list[ConsumedEvent[Parsed]] = []
            outcomes: Counter[tuple[str, str]] = Counter()
            for event in events:
                if event.envelope.event_id in new_ids:
                    new_ids.discard(event.envelope.event_id)  # a repeat inside the batch is a duplicate too
                    fresh.append(event)
                else:
                    outcomes[event.topic, "duplicate"] += 1
            if fresh:
                await self._handle(session, outbox, fresh, rejected)
            dead = [p for p in poison if p.marker in new_ids]  # the others were dead-lettered before
            self._breaker.check(dead_letters=len(dead) + len(rejected), batch=batch)
            if rejected:
                dead += await self._unrecord(session, rejected)
            for letter in dead:
                outbox.emit_raw(letter.message(service=self._service, dlq_topic=self._dlq_topic))
            await write_outbox(session, self._tables.outbox, outbox.messages)
        observe_applied(self._service, ((e.topic, e.envelope.occurred_at) for e in fresh))
        refused = {dead_letter_marker(e.topic, e.partition, e.offset) for e, _ in rejected}
        sent = {letter.marker for letter in dead}
        for event in fresh:
            marker = dead_letter_marker(event.topic, event.partition, event.offset)
            # A rejection dead-lettered before is a replay's repeat.
            outcomes[event.topic, "applied" if marker not in refused else "dlq" if marker in sent else "duplicate"] += 1
        for letter in dead:
            outcomes[letter.topic, "dlq"] += letter.error_kind != "rejected"
            DLQ_WRITTEN.labels(self._service, letter.error_kind).inc()
        for (topic, outcome), count in outcomes.items():
            if count:
                EVENTS_CONSUMED.labels(self._service, topic, outcome).inc(count)
        return AppliedBatch(new=len(fresh) - len(rejected), duplicates=len(events) - len(fresh),
                            rejected=tuple(rejected), written=len(outbox.messages))

    async def _unrecord(self, session: AsyncSession,
                        rejected: list[tuple[ConsumedEvent[Consumable], str]]) -> list[DeadLetter]:
        """A rejected event was not processed: forget its id, so that a corrected copy sent again is
        applied, and record its dead letter's marker instead; returns the dead letters not sent
        before (a replayed batch rejects the event again, but dead-letters it once)."""
        table = self._tables.processed_events
        await forget_processed(session, table, [event.envelope.event_id for event, _ in rejected])
        letters = [DeadLetter(event.topic, event.partition, event.offset, event.envelope.account_id.encode(), event.raw,
                              reason, "rejected") for event, reason in rejected]
        new = await record_processed(session, table, [letter.marker for letter in letters])
        return [letter for letter in letters if letter.marker in new]

    async def _handle(
        self, session: AsyncSession, outbox: Outbox, events: list[ConsumedEvent[Parsed]],
        rejected: list[tuple[ConsumedEvent[Consumable], str]],
    ) -> None:
        """Apply the handler in a savepoint; if it rejects an event by raising, undo its work and
        split the events until the rejected one is alone, then dead-letter just that one. Any
        other exception propagates: the whole batch rolls back and stops."""
        ctx = BatchContext(session=session, outbox=Outbox(), service=self._service, dlq_topic=self._dlq_topic)
        try:
            async with session.begin_nested():
                await self._handler(ctx, events)
        except EVENT_FAULTS as exc:
            if len(events) == 1:
                log.warning("handler rejected an event; dead-lettering it",
                            extra={"event_id": events[0].envelope.event_id, "error": repr(exc)})
                rejected.append((events[0], f"{self._service} rejected {events[0].envelope.type}: {exc}"))
                return
            middle = len(events) // 2
            await self._handle(session, outbox, events[:middle], rejected)
            await self._handle(session, outbox, events[middle:], rejected)
            return
        outbox.messages.extend(ctx.outbox.messages)
        rejected.extend(ctx.rejected)

    async def commit_offsets(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """A batch's last step, once its transaction has committed (a crash test's subclass dies here)."""
        await self._offsets.commit_batch(records)
