"""One consumer batch's database transaction, and the types a batch handler sees.

In ONE transaction (see DESIGN.md, "The consumer loop", step 3): insert the batch's event ids (and
the dead-letter markers) into ``processed_events``; hand only the new events to the service's batch
handler; write the handler's outgoing events and the dead letters into the outbox. An event a handler
rejects (``ctx.reject``, or raising ``EventRejected``: the work is then split, with savepoints, until
the rejected event is alone) is dead-lettered, unless the breaker finds too many. The runner
(``shared.consumer``) fetches, parses and commits offsets around it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typing_extensions import TypeVar

from shared.db import PlumbingTables, forget_processed, record_processed, unit_of_work
from shared.dlq import DeadLetter, dead_letter_marker
from shared.events import Envelope
from shared.metrics import DLQ_WRITTEN, EVENTS_CONSUMED, observe_applied
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

    parsed: _Parsed_co
    """The record as the runner's parser validated it (an input `Envelope` by default, else whatever
    `Consumable` the runner was built to parse: a `health.changed`, an alert record...)."""
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


class BatchApplier(Generic[Parsed]):
    """Applies parsed batches of one runner, each in one transaction."""

    def __init__(
        self, *, service: str, sessions: async_sessionmaker[AsyncSession], tables: PlumbingTables,
        handler: BatchHandler[Parsed], dlq_topic: str, breaker: RejectionBreaker,
    ) -> None:
        self._service = service
        self._sessions = sessions
        self._tables = tables
        self._handler = handler
        self._dlq_topic = dlq_topic
        self._breaker = breaker

    async def apply(
        self, events: list[ConsumedEvent[Parsed]], poison: list[DeadLetter], *, batch: int
    ) -> AppliedBatch:
        """The batch in one transaction: ids recorded, new events handled, outbox written."""
        outbox = Outbox()
        rejected: list[tuple[ConsumedEvent[Consumable], str]] = []
        async with unit_of_work(self._sessions) as session:
            keys = [e.parsed.event_id for e in events] + [p.marker for p in poison]
            new_ids = await record_processed(session, self._tables.processed_events, keys)
            fresh: list[ConsumedEvent[Parsed]] = []
            outcomes: Counter[tuple[str, str]] = Counter()
            for event in events:
                if event.parsed.event_id in new_ids:
                    new_ids.discard(event.parsed.event_id)  # a repeat inside the batch is a duplicate too
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
        observe_applied(self._service, ((e.topic, e.parsed.occurred_at) for e in fresh))
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
        await forget_processed(session, table, [event.parsed.event_id for event, _ in rejected])
        letters = [DeadLetter(event.topic, event.partition, event.offset, event.parsed.account_id.encode(), event.raw,
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
                            extra={"event_id": events[0].parsed.event_id, "error": repr(exc)})
                rejected.append((events[0], f"{self._service} rejected {events[0].parsed.type}: {exc}"))
                return
            middle = len(events) // 2
            await self._handle(session, outbox, events[:middle], rejected)
            await self._handle(session, outbox, events[middle:], rejected)
            return
        outbox.messages.extend(ctx.outbox.messages)
        rejected.extend(ctx.rejected)

