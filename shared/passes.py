"""Scheduled passes over accounts: the skeleton health's rescorer and renewals' pass share.

Both bring accounts forward through time no event marks (silence, a renewal window opening). The
pieces here are the parts that do not depend on what a pass does to an account:

- `PassWiring`: what a pass takes from its process (engine, sessions, its consumer's progress, the relay);
- `run_periodically`: the background loop, deferring while the consumer still has a backlog ("now" is
  ahead of the queued events, and an account whose events wait there is behind, not silent);
- `advisory_lock`: a session-level lock (each partition group's, so instances split a pass; should
  the holder die, its connection closes and the lock goes with it);
- `group_untils` (pure): per partition group, the last midnight its accounts may be brought to;
- `read_untils`: the same, from the stored watermarks and the consumer's settled groups;
- `locked_pass`: each group in turn (`in_group_order`) under that group's lock, skipping the groups
  another instance is working on; `total` adds up its reports;
- `in_chunks`: keyset chunks of accounts, one transaction each with its outbox rows.

The per-group latest event times the consumers record are `shared.watermarks`'; what a midnight is
(and how late an event may be for it) is each service's domain's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import unit_of_work
from shared.outbox import Outbox, write_outbox
from shared.watermarks import read_watermarks

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class PassReport(Protocol):
    @property
    def accounts(self) -> int: ...


R = TypeVar("R", bound=PassReport)
T = TypeVar("T")
Counts = TypeVar("Counts", bound="DataclassInstance")


_INSTANT = timedelta(microseconds=1)


def _nothing(*_: Any) -> None:
    return None


async def run_periodically(
    one_pass: Callable[[], Awaitable[R | None]],
    *,
    interval_s: float,
    caught_up: Callable[[], bool],
    log: logging.Logger,
    what: str,
    on_deferred: Callable[[], None] = _nothing,
    on_ran: Callable[[float, R | None], None] = _nothing,
    on_failed: Callable[[], None] = _nothing,
) -> None:
    """A pass now, then one every `interval_s`, until cancelled. A pass returns None when another
    instance held the lock. `on_ran` gets the seconds a pass took and its report; `what` names the pass
    in the log."""
    while True:
        if not caught_up():
            on_deferred()
            await asyncio.sleep(min(interval_s, 5.0))
            continue
        started = time.perf_counter()
        try:
            report = await one_pass()
            on_ran(time.perf_counter() - started, report)
            if report is not None and report.accounts:
                log.info(f"{what} done", extra=vars(report))
        except Exception:
            # The next pass retries; a failed chunk rolled back and left its accounts due.
            on_failed()
            log.exception(f"{what} failed")
        await asyncio.sleep(interval_s)


@asynccontextmanager
async def advisory_lock(engine: AsyncEngine, key: str, *, shared: bool = False, wait: bool = False
                        ) -> AsyncIterator[bool]:
    """A session-level advisory lock on `key` for the block, on a connection of its own; yields whether
    it was acquired (the block decides what to do without it). `shared`: held beside other shared holders,
    excluding an exclusive one; `wait`: wait for it (then always acquired) instead of trying once.
    Released at the end of the block if taken."""
    lock_id = sa.func.hashtext(key)
    take = {(False, False): sa.func.pg_try_advisory_lock, (True, False): sa.func.pg_try_advisory_lock_shared,
            (False, True): sa.func.pg_advisory_lock, (True, True): sa.func.pg_advisory_lock_shared}[shared, wait]
    release = sa.func.pg_advisory_unlock_shared if shared else sa.func.pg_advisory_unlock
    async with engine.connect() as conn:
        result = await conn.scalar(sa.select(take(lock_id)))
        locked = True if wait else bool(result)
        await conn.commit()
        try:
            yield locked
        finally:
            if locked:
                await conn.execute(sa.select(release(lock_id)))
                await conn.commit()


def group_untils(
    watermarks: Mapping[int, datetime],
    quiet_groups: Collection[int],
    now: datetime,
    *,
    last_midnight: Callable[[datetime], datetime],
    idle_after: timedelta | None,
    strictly_past: bool,
    settled: Mapping[int, datetime | None] | None = None,
) -> dict[int | None, datetime]:
    """Per partition group, the last midnight a pass may bring its accounts to (`last_midnight` of a
    moment: the domain's rule, grace included), never past the latest event time the group has shown
    (`watermarks`: while a backlog is read, an account whose events are on their way is behind, not
    silent) nor past `now`. A group in `quiet_groups` (read to the end, nothing new for a while) is at
    `now`. Key None: accounts stored before their group was known, as far as the furthest group.

    With `idle_after` None (health) a group is never moved on by another group's progress.
    With `idle_after` set (renewals) a group that far behind the busiest stored watermark has gone quiet
    and moves with the busiest.
    With `strictly_past` (health) a group's midnight comes only once its watermark is strictly past it:
    the merge has applied every event of the group earlier than the watermark, but an event at the very
    same instant on another topic may still wait its turn (a midnight evaluated before it would make it
    late, in some runs and not others). Key None keeps the plain limit.

    With `settled` (the consumer's `settled_groups`: groups read to the end, each with the earliest event
    time still to be applied there, or None), only those groups are judged, and never up to an event
    still waiting: a watermark says how far a group's events have got, not that none older is still to
    come (a backfill written account by account goes back in time at every account). A group with more
    on the broker waits for a later pass (or for the instance that owns it)."""
    reached = dict(watermarks)
    if idle_after is not None:
        busiest = max(watermarks.values(), default=now)
        reached = {group: at if at >= busiest - idle_after else busiest for group, at in reached.items()}
    reached.update(dict.fromkeys(quiet_groups, now))
    margin = _INSTANT if strictly_past else timedelta(0)
    if settled is not None:
        reached = {group: _before_waiting(at, settled[group]) for group, at in reached.items() if group in settled}
        margin = _INSTANT  # an event still waiting at that very instant must not come after its midnight
    untils: dict[int | None, datetime] = {
        group: last_midnight(min(now, at - margin)) for group, at in reached.items()}
    untils[None] = last_midnight(min(now, max(reached.values(), default=now)))
    return untils


SettledGroups = Callable[[], Awaitable[Mapping[int, datetime | None] | None]]
"""The consumer's `settled_groups` (None: the consumer is not running, nothing to go by)."""


async def nothing_known() -> None:
    """`SettledGroups` of a pass with no consumer beside it (a tool, a test feeding handlers directly)."""
    return None


@dataclass(frozen=True)
class PassWiring:
    """What a scheduled pass takes from its process (``Runtime.pass_wiring`` builds it from the
    service's runtime and consumer): where it works, how often and in what chunks, how late a midnight
    is taken (`grace_s`), and the consumer's progress: whether it has caught up (no pass while a backlog
    is read), its quiet and settled partition groups; `on_committed` wakes the relay after each chunk."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    interval_s: float
    chunk: int
    grace_s: float = 0.0
    caught_up: Callable[[], bool] = lambda: True
    quiet_groups: Callable[[], set[int]] = set
    settled_groups: SettledGroups = nothing_known
    on_committed: Callable[[], None] = _nothing

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.grace_s)


def _before_waiting(reached: datetime, waiting: datetime | None) -> datetime:
    return reached if waiting is None else min(reached, waiting)


async def read_untils(
    wiring: PassWiring,
    watermarks: sa.Table,
    now: datetime,
    *,
    last_midnight: Callable[[datetime], datetime],
    idle_after: timedelta | None,
    strictly_past: bool,
) -> dict[int | None, datetime]:
    """`group_untils` of the stored stream watermarks (`watermarks`, the table) and the consumer's
    quiet and settled groups, each asked after the watermarks are read, as they are then."""
    async with wiring.sessions() as session:
        seen = await read_watermarks(session, watermarks)
    return group_untils(seen, wiring.quiet_groups(), now, last_midnight=last_midnight, idle_after=idle_after,
                        strictly_past=strictly_past, settled=await wiring.settled_groups())


def group_lock_key(lock_key: str, group: int | None) -> str:
    """The advisory lock key of one partition group's share of a pass (`lock_key`: the pass's, per schema)."""
    return f"{lock_key}:group:{'none' if group is None else group}"


async def locked_pass(
    engine: AsyncEngine,
    lock_key: str,
    untils: Mapping[int | None, datetime],
    one_group: Callable[[int | None, datetime], Awaitable[T]],
    *,
    first: Callable[[], Awaitable[object]] | None = None,
) -> list[T] | None:
    """`one_group` of each group up to its until, in `in_group_order`, each under its own advisory lock
    (`group_lock_key`): instances running a pass at once split its groups, and a group whose lock another
    instance holds is skipped (that instance is bringing it forward). A result per group taken; None
    when every group was held by others.

    `first` (if any) runs alone: with `lock_key` held exclusively, while every pass holds it shared as
    long as it works on groups. So no other instance is part-way through a group while it runs (what it
    builds may depend on everything evaluated so far: health's cohort norms), and a pass that starts
    during it waits for it. Taken without waiting: if another pass is working on groups, this pass
    leaves `first` to a later one (the first pass of a quiet moment does it)."""
    if first is not None:
        async with advisory_lock(engine, lock_key) as alone:
            if alone:
                await first()
    results: list[T] = []
    skipped = 0
    async with advisory_lock(engine, lock_key, shared=True, wait=True) if first is not None else _no_lock():
        for group, until in in_group_order(untils):
            async with advisory_lock(engine, group_lock_key(lock_key, group)) as mine:
                if not mine:
                    skipped += 1
                    continue
                results.append(await one_group(group, until))
    return None if skipped and not results else results


@asynccontextmanager
async def _no_lock() -> AsyncIterator[bool]:
    yield True


def total(report_type: type[Counts], reports: Sequence[Counts]) -> Counts:
    """One report from its parts' (`report_type`, a dataclass of counts): each count summed."""
    return report_type(**{f.name: sum(getattr(r, f.name) for r in reports)
                          for f in dataclasses.fields(report_type)})


def in_group_order(untils: Mapping[int | None, datetime]) -> list[tuple[int | None, datetime]]:
    """The groups in the order a pass takes them: accounts of no known group first, then by number."""
    return sorted(untils.items(), key=lambda gu: -1 if gu[0] is None else gu[0])


async def in_chunks(
    sessions: async_sessionmaker[AsyncSession],
    outbox_table: sa.Table,
    next_chunk: Callable[[AsyncSession, str], Awaitable[list[str]]],
    work: Callable[[AsyncSession, Outbox, list[str]], Awaitable[T]],
    on_committed: Callable[[], None] = _nothing,
) -> list[T]:
    """Chunks of account ids (keyset: `next_chunk` gets the last id of the previous chunk, "" first),
    each worked on in its own transaction with the outbox rows it emits, until a chunk comes back
    empty. `on_committed` after each commit (to wake the relay). One result per chunk; keep it small."""
    after, results = "", list[T]()
    while True:
        outbox = Outbox()
        async with unit_of_work(sessions) as session:
            account_ids = await next_chunk(session, after)
            if not account_ids:
                return results
            results.append(await work(session, outbox, account_ids))
            await write_outbox(session, outbox_table, outbox.messages)
        on_committed()
        after = account_ids[-1]
