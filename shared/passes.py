"""Scheduled passes over accounts: the skeleton health's rescorer and renewals' pass share.

Both bring accounts forward through time no event marks (silence, a renewal window opening). The
pieces here are the parts that do not depend on what a pass does to an account:

- `run_periodically`: the background loop, deferring while the consumer still has a backlog ("now" is
  ahead of the queued events, and an account whose events wait there is behind, not silent);
- `advisory_lock`: a session-level lock so one instance runs a pass; should the holder die, its
  connection closes and the lock goes with it;
- `group_untils` (pure): per partition group, the last midnight its accounts may be brought to;
- `in_chunks`: keyset chunks of accounts, one transaction each with its outbox rows.

The per-group latest event times the consumers record are `shared.watermarks`'; what a midnight is
(and how late an event may be for it) is each service's domain's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import unit_of_work
from shared.outbox import Outbox, write_outbox


class PassReport(Protocol):
    @property
    def accounts(self) -> int: ...


R = TypeVar("R", bound=PassReport)
T = TypeVar("T")


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
async def advisory_lock(engine: AsyncEngine, key: str) -> AsyncIterator[bool]:
    """Try a session-level advisory lock on `key` for the block; yields whether it was acquired (the
    block decides what to do without it). Released at the end of the block if taken."""
    lock_id = sa.func.hashtext(key)
    async with engine.connect() as conn:
        locked = bool(await conn.scalar(sa.select(sa.func.pg_try_advisory_lock(lock_id))))
        await conn.commit()
        try:
            yield locked
        finally:
            if locked:
                await conn.execute(sa.select(sa.func.pg_advisory_unlock(lock_id)))
                await conn.commit()


def group_untils(
    watermarks: Mapping[int, datetime],
    quiet_groups: Collection[int],
    now: datetime,
    *,
    last_midnight: Callable[[datetime], datetime],
    idle_after: timedelta | None,
    strictly_past: bool,
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
    late, in some runs and not others). Key None keeps the plain limit."""
    reached = dict(watermarks)
    if idle_after is not None:
        busiest = max(watermarks.values(), default=now)
        reached = {group: at if at >= busiest - idle_after else busiest for group, at in reached.items()}
    reached.update(dict.fromkeys(quiet_groups, now))
    margin = _INSTANT if strictly_past else timedelta(0)
    untils: dict[int | None, datetime] = {
        group: last_midnight(min(now, at - margin)) for group, at in reached.items()}
    untils[None] = last_midnight(min(now, max(reached.values(), default=now)))
    return untils


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
