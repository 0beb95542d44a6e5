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
retries with a bounded backoff until it passes; offsets never move past it. A bug is logged with
its stack and counted in ``orchard_handler_errors_total``: fix it, redeploy, and the batch applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import sqlalchemy.exc as sa_exc
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.alignment import Holding
from shared.db import PlumbingTables, forget_processed, record_processed, unit_of_work
from shared.dlq import dead_letter
from shared.events import Envelope, EventValidationError, parse_event
from shared.metrics import (
    BATCH_RETRIES,
    BATCH_SECONDS,
    DLQ_WRITTEN,
    EVENTS_CONSUMED,
    HANDLER_ERRORS,
    forget_lag,
    observe_applied,
    set_lag,
)
from shared.outbox import Outbox, OutgoingMessage, write_outbox
from shared.rejection import EVENT_FAULTS, RejectionBreaker

log = logging.getLogger(__name__)

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    KafkaError,
    OSError,
    TimeoutError,
)


# Deadlock and serialization failures: the transaction lost a race, and a retry succeeds.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})


def is_infrastructure_error(exc: BaseException) -> bool:
    """Not the events' fault: retry the batch rather than dead-letter anything."""
    if isinstance(exc, sa_exc.DBAPIError) and (
        exc.connection_invalidated or getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES
    ):
        return True
    return isinstance(exc, INFRASTRUCTURE_ERRORS)


@dataclass(frozen=True, slots=True)
class ConsumedEvent:
    """A validated event and where it came from."""

    envelope: Envelope
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
    rejected: list[tuple[ConsumedEvent, str]] = field(default_factory=list)

    def reject(self, event: ConsumedEvent, reason: str) -> None:
        """The event is well-formed but cannot be applied (a data problem): dead-letter it.
        (Raising ``EventRejected`` does the same for a handler that cannot carry on past it.)"""
        self.rejected.append((event, reason))


class BatchHandler(Protocol):
    async def __call__(self, ctx: BatchContext, events: Sequence[ConsumedEvent]) -> None: ...


Parser = Callable[[bytes], Envelope]


@dataclass(frozen=True, slots=True)
class _DeadLetter:
    """A record on its way to the DLQ: it could not be parsed, or its event was rejected."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    raw: bytes
    error: str
    error_kind: str

    @classmethod
    def of_record(cls, record: ConsumerRecord[bytes, bytes], error: str, kind: str) -> _DeadLetter:
        return cls(record.topic, record.partition, record.offset, record.key, record.value or b"", error, kind)

    @classmethod
    def of_event(cls, event: ConsumedEvent, error: str) -> _DeadLetter:
        key = event.envelope.account_id.encode()
        return cls(event.topic, event.partition, event.offset, key, event.raw, error, "rejected")

    @property
    def marker(self) -> str:
        return _marker(self.topic, self.partition, self.offset)


def _marker(topic: str, partition: int, offset: int) -> str:
    """Recorded in processed_events with a dead letter, so a replayed batch sends it once."""
    return f"dlq:{topic}:{partition}:{offset}"


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # Wait for the batch in flight: it commits (DB, then offsets) or rolls back before we let go.
        async with self._runner._batch_lock:
            self._runner._generation += 1
            self._runner._committed.clear()
            self._runner._held.clear()  # positions restart from the committed offsets
            self._runner._failing.clear()  # a partition still broken fails again where it lands
        forget_lag(self._runner._service, revoked)
        if revoked:
            log.info("partitions revoked", extra={"partitions": sorted(str(tp) for tp in revoked)})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        if assigned:
            log.info("partitions assigned", extra={"partitions": sorted(str(tp) for tp in assigned)})


class ConsumerRunner:
    def __init__(
        self,
        *,
        service: str,
        consumer: AIOKafkaConsumer,
        topics: Sequence[str],
        sessions: async_sessionmaker[AsyncSession],
        tables: PlumbingTables,
        handler: BatchHandler,
        dlq_topic: str,
        parser: Parser = parse_event,
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
        self._retry_backoff_max_s = retry_backoff_max_s
        self._breaker = breaker or RejectionBreaker()
        self._on_committed = on_committed
        self._batch_lock = asyncio.Lock()
        self._generation = 0
        # The offset last committed per owned partition, so an idle loop commits only what moved.
        self._committed: dict[TopicPartition, int] = {}
        # Fetched, not yet released to the handler (the merge across topics waits for their groups).
        self._rank = {topic: n for n, topic in enumerate(self._topics)}
        self._held: Holding[ConsumerRecord[bytes, bytes]] = Holding(
            _event_time if len(self._topics) > 1 else _no_time, lambda r: r.offset)
        self._stopping = asyncio.Event()
        # Partitions whose last batch failed (a bug or an outage) and that have not gone through since:
        # the runner is healthy only when none is stopped, whichever partitions the next fetch brings.
        self._failing: set[TopicPartition] = set()
        # False while a backlog (more than a batch) waits behind the last batch. Work that judges
        # "now" (such as re-scoring silent accounts) waits for it: in a backlog, now is ahead of
        # the events.
        self.caught_up = False
        self._started_at = time.monotonic()
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

    @property
    def healthy(self) -> bool:
        """False while a partition is stopped on a failing batch (readiness reports it)."""
        return not (self._failing & self._consumer.assignment())

    def stop(self) -> None:
        """Finish the batch in flight, commit it, and leave (graceful shutdown)."""
        self._stopping.set()

    async def run(self) -> None:
        self._consumer.subscribe(self._topics, listener=_Rebalance(self))
        await self._consumer.start()
        try:
            await self._loop()
        finally:
            forget_lag(self._service, self._consumer.assignment())
            await self._consumer.stop()

    async def _loop(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            generation = self._generation
            self._pause_full()
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
                    continue  # a rebalance reset our positions: these records will be fetched again
                if fetched:
                    self._records_at.update(dict.fromkeys({tp.partition for tp in fetched}, time.monotonic()))
                    self._held.add(fetched)
                records = await self._release()
                if not records:
                    if not fetched:
                        self.caught_up = not await self._behind()
                        await self._commit_drained()
                    continue
                batch = set(_first_offsets(records))
                try:
                    await self.process(records)
                except Exception as exc:
                    self._failing |= batch
                    self._report_failure(exc, records, backoff)
                    self._rewind(records)
                else:
                    self._failing -= batch
                    self.caught_up = not await self._behind()
                    if not self._failing:
                        backoff = 0.2
                    continue
            with contextlib.suppress(TimeoutError):  # a stop does not wait out the backoff
                await asyncio.wait_for(self._stopping.wait(), timeout=backoff)
            backoff = min(backoff * 2, self._retry_backoff_max_s)

    def _pause_full(self) -> None:
        """Partitions holding a batch's worth wait (paused) until the merge has used them, so the
        fetcher spends its requests on the partitions their groups are waiting for."""
        owned = self._consumer.assignment()
        full = {tp for tp in owned if self._held.count(tp) >= self._max_records}
        paused = self._consumer.paused() & owned
        if full - paused:
            self._consumer.pause(*(full - paused))
        if paused - full:
            self._consumer.resume(*(paused - full))

    async def _release(self) -> list[ConsumerRecord[bytes, bytes]]:
        """The next batch: up to ``max_records`` held records merged across topics in event time
        (shared.alignment), each partition group up to where a partition with more on the broker
        has nothing held."""
        owned = self._consumer.assignment()
        behind = {tp for tp in owned if await self._more_on_broker(tp)}
        records = self._held.release(assigned=owned, behind=behind.__contains__, topic_rank=self._rank,
                                     limit=self._max_records)
        return [r for r in records if TopicPartition(r.topic, r.partition) in owned]

    async def _more_on_broker(self, tp: TopicPartition) -> bool:
        """Whether records of `tp` a read_committed consumer can get lie beyond what was fetched. The end
        is the last stable offset (the high watermark counts records of transactions still open);
        unknown until the first fetch answers, and then it counts as more."""
        end = self._consumer.last_stable_offset(tp)
        if end is None:
            end = self._consumer.highwater(tp)
        return end is None or end > await self._consumer.position(tp)

    async def _behind(self) -> bool:
        """Whether more than one batch of records waits beyond what has been handed to us (as of
        the broker's last fetch responses). A steady stream always has a few records waiting; a
        backlog is what matters."""
        waiting = 0
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                return True
            lag = max(0, highwater - await self._consumer.position(tp)) + self._held.count(tp)
            set_lag(self._service, tp, lag)
            waiting += lag
        return waiting > self._max_records

    async def _commit_drained(self) -> None:
        """On an idle loop (under the batch lock), commit each owned partition's position where it
        passed the last offset committed and nothing of it is held. A transactional producer ends
        every transaction with a marker that takes an offset but is never handed over as a record:
        committing record offsets alone leaves a lag of one that every lag monitor (and anyone
        waiting for lag zero) reads as work not done. Nothing is skipped: with nothing held, every
        record before the position was processed."""
        moved: dict[TopicPartition, OffsetAndMetadata] = {}
        held = self._held.partitions()
        for tp in self._consumer.assignment() - held:
            position = await self._consumer.position(tp)
            if tp not in self._committed:
                committed = await self._consumer.committed(tp)
                self._committed[tp] = committed if committed is not None else 0  # 0: nothing to say yet
            if position > self._committed[tp]:
                moved[tp] = OffsetAndMetadata(position, "")
        if moved:
            try:
                await self._consumer.commit(moved)
            except KafkaError as exc:  # a rebalance under way: the next idle loop tries again
                log.info("idle offset commit skipped", extra={"error": repr(exc)})
                return
            self._committed.update({tp: meta.offset for tp, meta in moved.items()})

    def _report_failure(self, exc: Exception, records: Sequence[ConsumerRecord[bytes, bytes]], backoff: float) -> None:
        where = {f"{tp.topic}:{tp.partition}": offset for tp, offset in _first_offsets(records).items()}
        if is_infrastructure_error(exc):
            BATCH_RETRIES.labels(self._service).inc()
            log.warning("batch failed on infrastructure; rewinding and retrying",
                        extra={"error": repr(exc), "backoff_s": backoff, "from_offsets": where})
            return
        HANDLER_ERRORS.labels(self._service, type(exc).__name__).inc()
        log.error("batch failed on an error that is not the data's fault; partitions stopped, retrying",
                  exc_info=exc, extra={"error": repr(exc), "backoff_s": backoff, "from_offsets": where})

    def _rewind(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Back to the failed batch's first records, and to the first held ones elsewhere: everything is
        fetched again (the held records too, so nothing is kept from before the failure)."""
        owned = self._consumer.assignment()
        starts = {**self._held.first_offsets(), **_first_offsets(records)}
        self._held.clear()
        for tp, offset in starts.items():
            if tp in owned:
                self._consumer.seek(tp, offset)

    async def process(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply one batch durably, then commit its offsets."""
        if not records:
            return
        started = time.perf_counter()
        events: list[ConsumedEvent] = []
        poison: list[_DeadLetter] = []
        for record in records:
            raw = record.value or b""
            try:
                envelope = self._parse(raw)
            except EventValidationError as exc:
                poison.append(_DeadLetter.of_record(record, str(exc), "validation"))
                continue
            events.append(ConsumedEvent(envelope, record.topic, record.partition, record.offset, raw))

        written = await self._transaction(events, poison, batch=len(records))
        BATCH_SECONDS.labels(self._service).observe(time.perf_counter() - started)
        await self._commit_offsets(records)
        if written and self._on_committed is not None:
            self._on_committed()

    async def _transaction(self, events: list[ConsumedEvent], poison: list[_DeadLetter], *, batch: int) -> int:
        """The batch in one transaction: ids recorded, new events handled, outbox written."""
        outbox = Outbox()
        rejected: list[tuple[ConsumedEvent, str]] = []
        async with unit_of_work(self._sessions) as session:
            keys = [e.envelope.event_id for e in events] + [p.marker for p in poison]
            new_ids = await record_processed(session, self._tables.processed_events, keys)
            fresh: list[ConsumedEvent] = []
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
                outbox.emit_raw(self._dead_letter(letter))
            await write_outbox(session, self._tables.outbox, outbox.messages)
        observe_applied(self._service, ((e.topic, e.envelope.occurred_at) for e in fresh))
        refused = {_marker(e.topic, e.partition, e.offset) for e, _ in rejected}
        sent = {letter.marker for letter in dead}
        for event in fresh:
            marker = _marker(event.topic, event.partition, event.offset)
            # A rejection dead-lettered before is a replay's repeat.
            outcomes[event.topic, "applied" if marker not in refused else "dlq" if marker in sent else "duplicate"] += 1
        for letter in dead:
            outcomes[letter.topic, "dlq"] += letter.error_kind != "rejected"
            DLQ_WRITTEN.labels(self._service, letter.error_kind).inc()
        for (topic, outcome), count in outcomes.items():
            if count:
                EVENTS_CONSUMED.labels(self._service, topic, outcome).inc(count)
        return len(outbox.messages)

    async def _unrecord(self, session: AsyncSession, rejected: list[tuple[ConsumedEvent, str]]) -> list[_DeadLetter]:
        """A rejected event was not processed: forget its id, so that a corrected copy sent again is
        applied, and record its dead letter's marker instead; returns the dead letters not sent
        before (a replayed batch rejects the event again, but dead-letters it once)."""
        table = self._tables.processed_events
        await forget_processed(session, table, [event.envelope.event_id for event, _ in rejected])
        letters = [_DeadLetter.of_event(event, reason) for event, reason in rejected]
        new = await record_processed(session, table, [letter.marker for letter in letters])
        return [letter for letter in letters if letter.marker in new]

    async def _handle(
        self, session: AsyncSession, outbox: Outbox, events: list[ConsumedEvent],
        rejected: list[tuple[ConsumedEvent, str]],
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

    def _dead_letter(self, letter: _DeadLetter) -> OutgoingMessage:
        return dead_letter(
            service=self._service,
            dlq_topic=self._dlq_topic,
            raw=letter.raw,
            key=letter.key,
            error=letter.error,
            error_kind=letter.error_kind,
            source_topic=letter.topic,
            partition=letter.partition,
            offset=letter.offset,
            failed_at=datetime.now(UTC),
        )

    async def _commit_offsets(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        next_offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            next_offsets[tp] = max(next_offsets.get(tp, 0), record.offset + 1)
        owned = self._consumer.assignment()
        offsets = {tp: OffsetAndMetadata(off, "") for tp, off in next_offsets.items() if tp in owned}
        if offsets:
            await self._consumer.commit(offsets)
            self._committed.update({tp: meta.offset for tp, meta in offsets.items()})



def _first_offsets(records: Sequence[ConsumerRecord[bytes, bytes]]) -> dict[TopicPartition, int]:
    firsts: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        firsts[tp] = min(firsts.get(tp, record.offset), record.offset)
    return firsts


def _no_time(record: ConsumerRecord[bytes, bytes]) -> int:
    """One topic: its partitions' orders are independent, offset order is all there is."""
    return 0


def _event_time(record: ConsumerRecord[bytes, bytes]) -> tuple[int, datetime]:
    """The record's event time, for the merge across topics; a record without a readable one goes
    first (it is dead-lettered when parsed, so where it stands does not matter)."""
    try:
        moment = orjson.loads(record.value or b"").get("occurred_at")
        at = datetime.fromisoformat(moment)
        return (1, at if at.tzinfo else at.replace(tzinfo=UTC))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return (0, _EPOCH)


_EPOCH = datetime.min.replace(tzinfo=UTC)
