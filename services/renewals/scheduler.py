"""The scheduled pass: renewals move through their windows with no event.

A stable red account sends nothing when its renewal window opens, yet that is when its
renewal_at_risk alert is due. Every `interval` the pass judges each account due (the schedule table
holds the next day its judgement can change: a window opening, a reminder window, the closing days,
the date passing, a health record becoming the trend's reference) at every such midnight up to the
last one, exactly as the batch handler does before an account's next event (`domain.judging`), so a
live run, a replay and a restart emit the same alerts with the same ids.

"Now" is the wall clock for a partition group this instance has read to the end with nothing new for
a while (`ConsumerRunner.quiet_partitions`): there event time has caught up with it. Any other group
is judged only up to the latest event time seen there (during a backfill, now is ahead of the data,
and an account whose events are still queued is behind, not quiet); a group a day behind the busiest
has gone quiet and moves with it. A midnight is judged only `grace` after it, so events up to that
late land before it. Tests and replays pass `as_of` instead of the wall clock.

One instance at a time: a session-level advisory lock held for the pass; the others skip their turn.
Chunks of accounts, one transaction each, with their alerts in the same transaction's outbox. The
loop, the lock, the per-group limits and the chunks are `shared.passes`', shared with health's rescorer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.renewals.domain import JudgingRules, advance, last_midnight, utc_day
from services.renewals.handlers import store_judged
from services.renewals.store import RenewalsTables, account_books, due_accounts
from shared.clock import Clock, utc_now
from shared.outbox import Outbox
from shared.passes import PassWiring, in_chunks, locked_pass, read_untils, run_periodically, total

log = logging.getLogger(__name__)

IDLE_GROUP = timedelta(days=1)
"""A partition group this far behind the busiest one has gone quiet (a small book's weekend), and no
longer holds its accounts' time back."""


@dataclass(frozen=True)
class PassReport:
    accounts: int
    alerts: int
    chunks: int


class RenewalsScheduler:
    def __init__(
        self,
        *,
        tables: RenewalsTables,
        wiring: PassWiring,
        rules: JudgingRules,
        churn_risk_topic: str,
        clock: Clock = utc_now,
    ) -> None:
        self._tables = tables
        self._wiring = wiring
        self._rules = rules
        self._topic = churn_risk_topic
        self._clock = clock
        self._lock_key = f"renewals-scheduler:{tables.schema}"

    async def run(self) -> None:
        """The background loop: a pass now, then one every interval, until cancelled."""
        await run_periodically(self.judge_due, interval_s=self._wiring.interval_s, caught_up=self._wiring.caught_up,
                               log=log, what="scheduled renewal pass")

    async def untils(self, now: datetime) -> dict[int | None, datetime]:
        """Per partition group, the last midnight the pass may judge its accounts at (see the module
        docstring); None stands for accounts whose group is not known yet (stored before groups were)."""
        return await read_untils(self._wiring, self._tables.stream_watermarks, now, idle_after=IDLE_GROUP,
                                 strictly_past=False,
                                 last_midnight=lambda at: last_midnight(at, grace=self._wiring.grace))

    async def judge_due(self, *, as_of: datetime | None = None) -> PassReport | None:
        """Judge every account due by its group's last midnight (as of `as_of`, default the clock).
        None when another instance's pass holds the lock."""
        untils = await self.untils(as_of or self._clock())
        reports = await locked_pass(self._wiring.engine, self._lock_key, untils, self._judge_group)
        return None if reports is None else total(PassReport, reports)

    async def _judge_group(self, group: int | None, until: datetime) -> PassReport:
        async def due(session: AsyncSession, after: str) -> list[str]:
            return await due_accounts(session, self._tables, partition=group, through=utc_day(until), after=after,
                                      limit=self._wiring.chunk)

        async def judge(session: AsyncSession, outbox: Outbox, account_ids: list[str]) -> PassReport:
            books = await account_books.lock_and_load(session, self._tables, account_ids)
            judged = {a: advance(book, a, until=until, rules=self._rules) for a, book in books.items()}
            await store_judged(session, self._tables, judged, partitions={}, rules=self._rules, outbox=outbox,
                               topic=self._topic, emitted_at=self._clock(), contracts=False)
            return PassReport(accounts=len(account_ids), alerts=len(outbox.messages), chunks=1)

        return total(PassReport, await in_chunks(self._wiring.sessions, self._tables.plumbing.outbox, due, judge,
                                                 self._wiring.on_committed))
