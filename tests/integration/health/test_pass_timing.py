"""The scheduler's pass forced again and again while a backlog is read leaves the same final state as no
pass at all: a pass judges only the partition groups the consumer has read to the end on every topic, so
where and how often it runs moves no point of any account (docs/reliability.md, "The scheduler's now").
This is the focused form of bench.scaleout's comparison (whose runs differed only because its drain
stopped early, test_bench_drain_count.py). The book has fewer accounts than a cohort needs for norms
(`MIN_COHORT`), so norms built mid-drain, whose content depends on the moment by design
(docs/reliability.md, "Configuration changes results"), cannot score anything here.

One partition group holds two accounts whose events stop early (after 3 and 10 of the 30 days): the
merge releases the backlog in event time, so that group is read to the end a third of the way through,
and every pass after that has an account there to bring forward while the rest is read. With groups of
equal length they all end together, and whether a pass fell in the last moment was chance (CI saw
none)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.health import feed
from bench.scaleout import digest
from services.health.domain.norms import MIN_COHORT
from shared.settings import TopicSettings
from tests.infra import Infra
from tests.integration.health.harness import Health, running, settings_for
from tests.kafka_utils import wait_for
from tests.services import topics_for

pytestmark = pytest.mark.integration

ACCOUNTS = 12
assert ACCOUNTS < MIN_COHORT
EARLY_GROUP_STOPS_AFTER_DAYS = (3, 10)


def _group_of(account: str, partitions: int) -> int:
    """The partition (group) the producer's default partitioner gives an account's events."""
    return int(DefaultPartitioner()(account.encode(), list(range(partitions)), list(range(partitions))))


def _book(now: datetime, *, prefix: str, partitions: int) -> list[dict[str, Any]]:
    """`ACCOUNTS` accounts over the 30 days before `now`, in event-time order: two of them alone in
    partition group 0, silent after `EARLY_GROUP_STOPS_AFTER_DAYS`, the rest in the other groups."""
    pool = feed(4 * ACCOUNTS, 40 * 4 * ACCOUNTS, now=now, prefix=prefix)
    accounts = sorted({e["account_id"] for e in pool})
    early = [a for a in accounts if _group_of(a, partitions) == 0][:len(EARLY_GROUP_STOPS_AFTER_DAYS)]
    rest = [a for a in accounts if _group_of(a, partitions) != 0][:ACCOUNTS - len(early)]
    assert len(early) == len(EARLY_GROUP_STOPS_AFTER_DAYS) and len(rest) == ACCOUNTS - len(early)
    start = now - timedelta(days=30)
    stops = {a: start + timedelta(days=d) for a, d in zip(early, EARLY_GROUP_STOPS_AFTER_DAYS, strict=True)}
    return [e for e in pool if e["account_id"] in rest
            or (e["account_id"] in stops and datetime.fromisoformat(e["occurred_at"]) < stops[e["account_id"]])]


async def _force_passes(health: Health, moved: list[int]) -> None:
    while True:
        report = await health.service.rescorer.rescore_due()
        moved.append(report.accounts if report else 0)
        await asyncio.sleep(0.02)


async def _run(infra: Infra, *, schema: str, name: str, topics: TopicSettings, book: list[dict[str, Any]],
               now: datetime, produce: bool, forced: bool) -> tuple[dict[str, Any], int]:
    """One health consumer of its own (group, schema) over the topics; the state it settles to, and how many
    accounts the forced passes brought forward."""
    settings = settings_for(infra, schema=schema, unique=name, topics=topics, consumer_max_records=7)
    if produce:  # the whole book on the broker before a consumer starts: a backlog, merged exactly in event time
        async with running(settings) as health:
            await health.produce(book)
    moved: list[int] = []
    async with running(settings, consume=True) as health:
        passes = asyncio.create_task(_force_passes(health, moved)) if forced else None
        try:
            await wait_for(lambda: health.applied(len(book)), timeout=180, what="the whole book applied")
        finally:
            if passes is not None:
                passes.cancel()
                await asyncio.gather(passes, return_exceptions=True)
        # One settling pass, as bench.scaleout's: every account to its group's last midnight.
        await health.service.rescorer.rescore_due(as_of=now)
        return await digest(health.service.runtime.engine, schema), sum(moved)


async def test_passes_forced_while_a_backlog_is_read_leave_the_state_of_no_pass(
    infra: Infra, engine: AsyncEngine, schema: str, unique: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    forced_schema, topics = f"{schema}_forced", topics_for(unique)
    partitions = settings_for(infra, schema=schema, unique=unique, topics=topics).topic_partitions
    book = _book(now, prefix=f"timing-{unique}", partitions=partitions)
    try:
        plain, _ = await _run(infra, schema=schema, name=f"{unique}-plain", topics=topics, book=book, now=now,
                              produce=True, forced=False)
        forced, moved = await _run(infra, schema=forced_schema, name=f"{unique}-forced", topics=topics, book=book,
                                   now=now, produce=False, forced=True)
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{forced_schema}" CASCADE'))
    assert moved > 0, "the forced passes brought accounts forward while the consumer ran"
    assert forced == plain
