"""The scheduler's pass forced again and again while a backlog is read leaves the same final state as no
pass at all: a pass judges only the partition groups the consumer has read to the end on every topic, so
where and how often it runs moves no point of any account (docs/reliability.md, "The scheduler's now").
This is the focused form of bench.scaleout's comparison (whose runs differed only because its drain
stopped early, test_bench_drain_count.py). The book has fewer accounts than a cohort needs for norms
(`MIN_COHORT`), so norms built mid-drain, whose content depends on the moment by design
(docs/reliability.md, "Configuration changes results"), cannot score anything here."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
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
    book = feed(ACCOUNTS, 40 * ACCOUNTS, now=now, prefix=f"timing-{unique}")
    forced_schema, topics = f"{schema}_forced", topics_for(unique)
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
