"""The shared consumer runner and outbox against a real Kafka broker and a real PostgreSQL.

The service under test is ``plumbing_service``: it counts events per account and emits one
output event per input event through the outbox.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.runtime import Runtime
from shared.settings import OrchardSettings, TopicSettings
from tests.infra import REPO, Infra
from tests.integration.plumbing_service import VERSIONS, build
from tests.kafka_utils import committed_offsets, create_topic, envelope, produce, read_all, wait_for

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Setup:
    schema: str
    in_topic: str
    out_topic: str
    dlq_topic: str
    service: str

    @property
    def group(self) -> str:
        return f"orchard-{self.service}"


@pytest.fixture
async def setup(infra: Infra, schema: str, unique: str) -> AsyncIterator[Setup]:
    s = Setup(schema, f"test.in.{unique}", f"test.out.{unique}", f"test.dlq.{unique}", f"plumbing-{unique}")
    for topic in (s.in_topic, s.out_topic, s.dlq_topic):
        await create_topic(infra.kafka_bootstrap, topic)
    yield s


def _settings(infra: Infra, setup: Setup, **overrides: Any) -> OrchardSettings:
    return OrchardSettings(
        **{
            "service_name": setup.service,
            "kafka_bootstrap": infra.kafka_bootstrap,
            "database_url": infra.database_url,
            "topics": TopicSettings(dlq=setup.dlq_topic),
            "consumer_max_records": 100,
            **overrides,
        }
    )


def _env(infra: Infra, setup: Setup, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ORCHARD_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "ORCHARD_DATABASE_URL": infra.database_url,
        "ORCHARD_TOPIC_DLQ": setup.dlq_topic,
        "ORCHARD_CONSUMER_MAX_RECORDS": "100",
        "PLUMBING_SCHEMA": setup.schema,
        "PLUMBING_IN_TOPIC": setup.in_topic,
        "PLUMBING_OUT_TOPIC": setup.out_topic,
        "PLUMBING_SERVICE": setup.service,
        **extra,
    }


def _start_worker(infra: Infra, setup: Setup, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.plumbing_service"],
        cwd=REPO,
        env=_env(infra, setup, **extra),
        stdout=subprocess.PIPE,
        text=True,
    )


async def _counts(engine: AsyncEngine, schema: str) -> dict[str, int]:
    async with engine.connect() as conn:
        try:
            rows = (await conn.execute(sa.text(f'SELECT account_id, events FROM "{schema}".account_counts'))).all()
        except sa.exc.ProgrammingError:
            return {}
    return {row[0]: row[1] for row in rows}


async def _total(engine: AsyncEngine, schema: str) -> int:
    return sum((await _counts(engine, schema)).values())


def _events(n: int, accounts: int, prefix: str) -> list[tuple[str, bytes]]:
    return [
        (f"acct-{i % accounts}", envelope(event_id=f"{prefix}-{i}", account_id=f"acct-{i % accounts}"))
        for i in range(n)
    ]


async def test_sigkill_after_db_commit_before_offset_commit_applies_each_event_once(
    infra: Infra, engine: AsyncEngine, setup: Setup
) -> None:
    events = _events(300, 7, "crash")
    await produce(infra.kafka_bootstrap, setup.in_topic, events)

    crashing = _start_worker(infra, setup, PLUMBING_CRASH="after_db_commit")
    code = await asyncio.to_thread(crashing.wait, 120)
    assert code == -signal.SIGKILL
    applied_before_crash = await _total(engine, setup.schema)
    assert 0 < applied_before_crash < 300, "the first batch must be durable in the DB when the process dies"
    assert await committed_offsets(infra.kafka_bootstrap, setup.group, setup.in_topic) == {}

    worker = _start_worker(infra, setup)
    try:
        await wait_for(lambda: _total_is(engine, setup.schema, 300), timeout=90, what="all 300 events applied")
        expected = Counter(key for key, _ in events)
        assert await _counts(engine, setup.schema) == dict(expected)

        async def all_published() -> bool:
            return len(await read_all(infra.kafka_bootstrap, setup.out_topic)) >= 300

        await wait_for(all_published, timeout=60, what="300 output events")
        await asyncio.sleep(1.0)  # a second copy, if there were one, would have arrived by now
        out = await read_all(infra.kafka_bootstrap, setup.out_topic)
        ids = [orjson.loads(r.value)["event_id"] for r in out]
        assert len(ids) == 300 and len(set(ids)) == 300
        assert {r.key.decode() for r in out} == set(expected)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 60) == 0


async def _total_is(engine: AsyncEngine, schema: str, n: int) -> bool:
    total = await _total(engine, schema)
    assert total <= n, f"counted {total} > {n}: an event was applied twice"
    return total == n


async def test_sigterm_commits_everything_it_applied_and_loses_nothing(
    infra: Infra, engine: AsyncEngine, setup: Setup
) -> None:
    first, second = _events(1500, 11, "term-a"), _events(500, 11, "term-b")
    worker = _start_worker(infra, setup)
    feeder = asyncio.create_task(produce(infra.kafka_bootstrap, setup.in_topic, first))
    await wait_for(lambda: _total_above(engine, setup.schema, 200), timeout=90, what="work under way")
    worker.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(worker.wait, 60) == 0
    await feeder

    # Everything applied was committed, and nothing committed was left unapplied.
    applied = await _total(engine, setup.schema)
    committed = await committed_offsets(infra.kafka_bootstrap, setup.group, setup.in_topic)
    assert sum(committed.values()) == applied
    async with engine.connect() as conn:
        pending = await conn.scalar(sa.text(f'SELECT count(*) FROM "{setup.schema}".outbox'))
    assert pending == 0, "a graceful stop drains the outbox"

    await produce(infra.kafka_bootstrap, setup.in_topic, second)
    worker = _start_worker(infra, setup)
    try:
        await wait_for(lambda: _total_is(engine, setup.schema, 2000), timeout=90, what="all 2000 events")
        assert await _counts(engine, setup.schema) == dict(Counter(k for k, _ in first + second))
    finally:
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 60) == 0


async def _total_above(engine: AsyncEngine, schema: str, n: int) -> bool:
    return await _total(engine, schema) > n


async def test_poison_messages_go_to_the_dlq_with_their_reason_and_the_rest_is_applied(
    infra: Infra, engine: AsyncEngine, setup: Setup
) -> None:
    messages = [
        ("a1", envelope(event_id="good-1", account_id="a1")),
        ("a1", b"{not json"),
        ("a1", envelope(event_id="bad-type", account_id="a1", type="usage.invented")),
        ("a1", envelope(event_id="explodes", account_id="a1", data={"feature": "explode"})),
        ("a1", envelope(event_id="good-2", account_id="a1")),
        ("a1", envelope(event_id="good-1", account_id="a1")),  # a duplicate: applied once only
    ]
    await produce(infra.kafka_bootstrap, setup.in_topic, messages)

    settings = _settings(infra, setup)
    service = build(setup.schema, setup.out_topic)
    runtime = Runtime(settings, tables=service.tables, versions_dir=VERSIONS)
    await runtime.start()
    runner = runtime.consumer_runner(topics=[setup.in_topic], handler=service.handle)
    tasks = [asyncio.create_task(runner.run()), asyncio.create_task(runtime.relay.run())]
    try:
        async def three_dead_letters() -> bool:
            return len(await read_all(infra.kafka_bootstrap, setup.dlq_topic)) >= 3

        await wait_for(three_dead_letters, timeout=60, what="3 dead letters")
        await wait_for(lambda: _total_is(engine, setup.schema, 2), timeout=30, what="2 good events applied")
    finally:
        runner.stop()
        runtime.relay.stop()
        await asyncio.gather(*tasks)
        await runtime.close()

    dead = sorted((orjson.loads(r.value) for r in await read_all(infra.kafka_bootstrap, setup.dlq_topic)),
                  key=lambda d: d["offset"])
    assert [d["offset"] for d in dead] == [1, 2, 3]
    assert all(d["source_topic"] == setup.in_topic and d["partition"] is not None for d in dead)
    assert all(d["service"] == setup.service for d in dead)
    assert dead[0]["error_kind"] == "validation" and "json" in dead[0]["error"].lower()
    assert dead[0]["original"] == "{not json"
    assert dead[1]["error_kind"] == "validation" and "usage.invented" in dead[1]["error"]
    assert dead[2]["error_kind"] == "handler" and "cannot be applied" in dead[2]["error"]
    assert orjson.loads(dead[2]["original"])["event_id"] == "explodes"
    assert await _counts(engine, setup.schema) == {"a1": 2}
    committed = await committed_offsets(infra.kafka_bootstrap, setup.group, setup.in_topic)
    assert sum(committed.values()) == len(messages), "poison does not stop the offsets from moving on"
