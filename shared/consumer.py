"""The consumer runner: Kafka batches in, one database transaction per batch, offsets last.

For each batch (see DESIGN.md, "The consumer loop"):

1. ``getmany`` a bounded batch from the partitions this instance owns.
2. Parse every record; one that cannot be parsed becomes a dead-letter message.
3. In ONE transaction (``shared.batch_apply``): record the ids, hand the new events to the service's
   batch handler, write its outgoing events and the dead letters into the outbox.
4. Commit, then commit the offsets of exactly the records of the batch, for the partitions still
   owned. A crash between the two replays the batch, and step 3 makes the replay a no-op.

The steps are pipelined, since each batch mostly waits on round trips (the transaction's statements,
the offset commit): while batch N's transaction runs, batch N+1 is fetched and parsed; once N has
committed, N's offsets are committed while N+1's transaction runs. What does not move: transactions
run one at a time and in order (N+1 starts after N committed, so it sees N's state), and a batch's
offsets are committed only after its transaction committed and after the previous batch's offsets
(``_Pipeline.advance``).

Only the data's fault is dead-lettered (``shared.rejection``). Anything else (a bug, the breaker, an
outage) rolls back, rewinds (the batch and everything fetched after it), turns ``healthy`` false
(``/readyz``) and retries with a bounded backoff until it passes; offsets never move past it
(``shared.batch_failures``).

The runner's parts: ``shared.intake`` holds what was fetched until the merge across topics releases
it, ``shared.offsets`` commits a batch's offsets and an idle loop's, ``shared.dlq`` builds the dead
letters and ``shared.batch_failures`` stops, reports and retries a failing batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.abc import ConsumerRebalanceListener
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.batch_apply import (
    AppliedBatch,
    BatchApplier,
    BatchContext,
    BatchHandler,
    Consumable,
    ConsumedEvent,
    Parsed,
    Parser,
)
from shared.batch_failures import BatchFailures
from shared.db import PlumbingTables
from shared.dlq import DeadLetter
from shared.events import EventValidationError
from shared.intake import Intake, first_offsets
from shared.metrics import BATCH_SECONDS, forget_lag
from shared.offsets import OffsetCommits
from shared.rejection import RejectionBreaker

__all__ = [
    "AppliedBatch", "BatchContext", "BatchHandler", "Consumable", "ConsumedEvent", "ConsumerRunner", "Parsed", "Parser",
]

log = logging.getLogger(__name__)

Records = Sequence[ConsumerRecord[bytes, bytes]]

# Records parsed between two yields to the event loop: the transaction in flight gets its replies
# handled while the next batch is parsed, instead of after all of it.
_PARSE_SLICE = 100


@dataclass(frozen=True)
class _Batch(Generic[Parsed]):
    """A released batch, parsed: what its transaction needs."""

    records: Records
    events: list[ConsumedEvent[Parsed]]
    poison: list[DeadLetter]
    started: float


_HandedOver = tuple[Records, "asyncio.Task[Any] | None"]
"""A batch handed over and the task of its transaction (None: not started yet)."""


def _committed(task: asyncio.Task[Any]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None


@dataclass(frozen=True)
class _Step:
    """A batch whose transaction (or offset commit) is running as `task`."""

    records: Records
    task: asyncio.Task[Any]
    started: float = 0.0


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ConsumerRunner[Any]) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        runner = self._runner
        # Wait for the batches in flight: each commits (DB, then offsets) or rolls back before we let go.
        async with runner._batch_lock:
            await runner._drain()
            runner._generation += 1
            # Positions restart from the committed offsets; a partition still broken fails again where it lands.
            runner._offsets.forget()
            runner._intake.clear()
            runner._failures.forget()
            runner.caught_up = False  # what waits on the partitions it will own is not known yet
        forget_lag(runner._service, revoked)
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
        self._parse = parser
        self._max_records = max_records
        self._max_wait_ms = max_wait_ms
        self._applier = BatchApplier(service=service, sessions=sessions, tables=tables, handler=handler,
                                     dlq_topic=dlq_topic, breaker=breaker or RejectionBreaker())
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
        self._released: Records = ()  # released by the intake, not yet handed to a transaction
        self._applying: _Step | None = None  # the batch whose transaction runs
        self._committing: _Step | None = None  # the batch (committed in the DB) whose offsets go
        # Handed over, not yet committed in the DB: the batch applying (with its transaction's task) and,
        # while a step awaits, the one behind it (no task yet). `settled_groups` counts them until their
        # transaction commits: an event the scheduler cannot see waiting would be late, and one counted
        # after it is durable holds its group back until the loop comes round (a pass then depends on when
        # it ran).
        self._unapplied: tuple[_HandedOver, ...] = ()
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
        waiting = [r for records, task in self._unapplied if task is None or not _committed(task) for r in records]
        return await self._intake.settled([*waiting, *self._released])

    @property
    def healthy(self) -> bool:
        """False while a partition is stopped on a failing batch (readiness reports it)."""
        return not self._failures.stopped(self._consumer.assignment())

    def stop(self) -> None:
        """Finish the batches in flight, commit them, and leave (graceful shutdown)."""
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
            async with self._batch_lock:
                await self._drain()
        finally:
            self._abandon()
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
                self._released = await self._intake.release()
                upcoming = await self._parse_batch(self._released) if self._released else None
                passed = await self._advance(upcoming)
                if passed and upcoming is None:
                    passed = await self._drain()  # nothing behind it: finish the batches in flight now
                    if passed and not fetched:
                        self.caught_up = not await self._intake.behind()
                        await self._offsets.commit_drained(self._intake.held_partitions())
            if not passed:
                await self._failures.wait(self._stopping)

    async def _parse_batch(self, records: Records) -> _Batch[Parsed]:
        started = time.perf_counter()
        events: list[ConsumedEvent[Parsed]] = []
        poison: list[DeadLetter] = []
        for n, record in enumerate(records, 1):
            raw = record.value or b""
            try:
                parsed = self._parse(raw)
            except EventValidationError as exc:
                poison.append(DeadLetter.of_record(record, str(exc), "validation"))
            else:
                events.append(ConsumedEvent(parsed, record.topic, record.partition, record.offset, raw))
            if n % _PARSE_SLICE == 0:
                await asyncio.sleep(0)
        return _Batch(records, events, poison, started)

    async def _advance(self, upcoming: _Batch[Parsed] | None) -> bool:
        """One step of the pipeline (under the batch lock): the previous batch's offsets are committed
        (awaited); the batch applying finishes its transaction, and only then its offsets start to go;
        then `upcoming` starts its transaction. False when a batch failed: it and everything after
        it (`upcoming` too) are rewound, to be fetched again after the backoff."""
        committing, self._committing = self._committing, None
        applying, self._applying = self._applying, None
        later = [*(applying.records if applying else ()), *(upcoming.records if upcoming else ())]
        self._unapplied = ((applying.records, applying.task),) if applying else ()
        self._unapplied += ((upcoming.records, None),) if upcoming else ()
        self._released = ()
        if committing is not None:
            try:
                await committing.task
            except Exception as exc:
                if applying is not None:  # let it end (commit or roll back) before anything is replayed
                    with contextlib.suppress(Exception):
                        await applying.task
                self._failed(exc, committing.records, rewind=[*committing.records, *later])
                self._unapplied = ()
                return False
            self.caught_up = not await self._intake.behind(in_flight=later)
        if applying is not None:
            try:
                applied: AppliedBatch = await applying.task
            except Exception as exc:
                self._failed(exc, applying.records, rewind=later)
                self._unapplied = ()
                return False
            BATCH_SECONDS.labels(self._service).observe(time.perf_counter() - applying.started)
            if applied.written and self._on_committed is not None:
                self._on_committed()
            self._committing = _Step(applying.records, asyncio.create_task(self.commit_offsets(applying.records)))
            self._unapplied = ((upcoming.records, None),) if upcoming is not None else ()
        if upcoming is not None:
            applied_later = self._applier.apply(upcoming.events, upcoming.poison, batch=len(upcoming.records))
            task = asyncio.create_task(applied_later)
            # A partition stopped on an outage counts as going again as soon as a transaction of its
            # goes through (readiness), not only once the loop comes round to commit the offsets.
            task.add_done_callback(self._passed_when_applied(upcoming.records))
            self._applying = _Step(upcoming.records, task, upcoming.started)
            self._unapplied = ((upcoming.records, task),)
        return True

    def _passed_when_applied(self, records: Records) -> Callable[[asyncio.Task[Any]], None]:
        partitions = set(first_offsets(records))

        def passed(done: asyncio.Task[Any]) -> None:
            if not done.cancelled() and done.exception() is None:
                self._failures.passed(partitions)

        return passed

    async def _drain(self) -> bool:
        """Finish the batches in flight: their transactions, then their offsets. False if one failed."""
        while self._applying is not None or self._committing is not None:
            if not await self._advance(None):
                return False
        return True

    def _failed(self, exc: Exception, records: Records, *, rewind: Records) -> None:
        self._failures.failed(exc, first_offsets(records))
        self._intake.rewind(rewind)

    def _abandon(self) -> None:
        """The runner was cancelled with batches in flight: a transaction rolls back, offsets stay."""
        for step in (self._applying, self._committing):
            if step is not None and not step.task.done():
                step.task.cancel()
            elif step is not None:
                with contextlib.suppress(BaseException):
                    step.task.result()  # retrieved, so that asyncio does not report it unread
        self._applying = self._committing = None
        self._unapplied = ()

    async def apply_batch(self, events: Sequence[ConsumedEvent[Parsed]]) -> AppliedBatch:
        """Apply already parsed events as one batch, as a fetched batch is (processed ids, the handler on
        the new ones, rejections dead-lettered, outbox, one transaction), without Kafka: no fetch and no
        offsets. The seam for tests and tools that drive a service's handler directly; the relay is
        woken as after a batch."""
        applied = await self._applier.apply(list(events), [], batch=len(events))
        if applied.written and self._on_committed is not None:
            self._on_committed()
        return applied

    async def commit_offsets(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """A batch's last step, once its transaction has committed (a crash test's subclass dies here)."""
        await self._offsets.commit_batch(records)
