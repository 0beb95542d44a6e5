"""The health history a run must have made, computed by the pure domain from the events on the
canonical topics alone: each account's events in the order the runner merges a backlog (per partition
number, the topics' partitions merged by their next record's event time, then topic, each partition in
offset order: a record that comes after a later one on its own partition is late), advanced in one go
up to the last midnight its partition group's events have shown (the scheduler's "today" when only the
stream's own time counts), with the cohort norms the run built (their versions and when each is in
force are the run's; what they say about the cohorts depends on when they were built, which is the
scheduler's business, not the events')."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from services.health.backtest.replay import default_scorecards
from services.health.domain import StoredAccount, advance
from services.health.domain.norms import NormsHistory
from services.health.store import health_tables, load_norms
from shared.days import day_number, start_of_day
from shared.events import Envelope, parse_event
from shared.signal_events import signal_event_of
from tests.faults.history import CANONICAL
from tests.kafka_utils import read_all

Point = tuple[Any, ...]


async def canonical_events(bootstrap: str, topics: Mapping[str, str]) -> list[tuple[Envelope, int, int, int]]:
    """(event, partition, topic rank, offset) for every record on the canonical topics (`topics`: name -> topic)."""
    found = []
    for rank, name in enumerate(CANONICAL):
        for record in await read_all(bootstrap, topics[name]):
            found.append((parse_event(record.value), record.partition, rank, record.offset))
    return found


def reference_history(events: Sequence[tuple[Envelope, int, int, int]], norms: NormsHistory
                      ) -> dict[str, list[Point]]:
    """account -> its points that change the score or grade, as the history stores them."""
    partitions: dict[int, dict[int, list[tuple[Envelope, int, int, int]]]] = {}
    for item in sorted(events, key=lambda item: item[3]):
        partitions.setdefault(item[1], {}).setdefault(item[2], []).append(item)
    scorecards = default_scorecards()
    history: dict[str, list[Point]] = {}
    for topics in partitions.values():
        merged = list(heapq.merge(*(topics[rank] for rank in sorted(topics)),
                                  key=lambda item: (item[0].occurred_at, item[2])))
        until = start_of_day(day_number(max(e.occurred_at for e, *_ in merged)))
        by_account: dict[str, list[Envelope]] = {}
        for envelope, *_ in merged:
            by_account.setdefault(envelope.account_id, []).append(envelope)
        for account, own in by_account.items():
            moved = advance(StoredAccount(account),
                            [signal_event_of(e) for e in own],
                            scorecards=scorecards, norms=norms, until=until)
            history[account] = [
                (e.score.as_of.isoformat(), e.score.total, e.score.grade,
                 e.previous.total if e.previous else None, e.previous.grade if e.previous else None, e.cause)
                for e in moved.evaluations if e.changed]
    return history


async def run_norms(engine: AsyncEngine, schema: str) -> NormsHistory:
    async with async_sessionmaker(engine)() as session:
        return await load_norms(session, health_tables(schema))
