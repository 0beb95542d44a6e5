"""Harness for the plumbing tests: the counting service's topics, settings, worker processes, counts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.consumer import BatchHandler, ConsumerRunner
from shared.runtime import Runtime
from shared.settings import OrchardSettings, TopicSettings
from tests.infra import REPO, Infra
from tests.integration.plumbing_service import VERSIONS, build
from tests.kafka_utils import QUICK_GROUP_TIMEOUTS, envelope


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


def settings_for(infra: Infra, plumbing: Setup, **overrides: Any) -> OrchardSettings:
    return OrchardSettings(
        **{
            "service_name": plumbing.service,
            "kafka_bootstrap": infra.kafka_bootstrap,
            "database_url": infra.database_url,
            "topics": TopicSettings(dlq=plumbing.dlq_topic),
            "consumer_max_records": 100,
            **overrides,
        }
    )


def worker_env_base(infra: Infra, **extra: str) -> dict[str, str]:
    """The environment of a worker process: ours, pointed at the tests' broker and database."""
    return {
        **os.environ,
        "ORCHARD_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "ORCHARD_DATABASE_URL": infra.database_url,
        **extra,
    }


def worker_env(infra: Infra, plumbing: Setup, **extra: str) -> dict[str, str]:
    return worker_env_base(
        infra,
        ORCHARD_TOPIC_DLQ=plumbing.dlq_topic,
        ORCHARD_CONSUMER_MAX_RECORDS="100",
        PLUMBING_SCHEMA=plumbing.schema,
        PLUMBING_IN_TOPIC=plumbing.in_topic,
        PLUMBING_OUT_TOPIC=plumbing.out_topic,
        PLUMBING_SERVICE=plumbing.service,
        **QUICK_GROUP_TIMEOUTS,
        **extra,
    )


def start_worker(infra: Infra, plumbing: Setup, **extra: str) -> subprocess.Popen[str]:
    return start_process("tests.integration.plumbing_service", worker_env(infra, plumbing, **extra))


def start_process(module: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", module], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)


async def counts(engine: AsyncEngine, schema: str) -> dict[str, int]:
    async with engine.connect() as conn:
        try:
            rows = (await conn.execute(sa.text(f'SELECT account_id, events FROM "{schema}".account_counts'))).all()
        except sa.exc.ProgrammingError:
            return {}
    return {row[0]: row[1] for row in rows}


async def total(engine: AsyncEngine, schema: str) -> int:
    return sum((await counts(engine, schema)).values())


def make_events(n: int, accounts: int, prefix: str) -> list[tuple[str, bytes]]:
    return [
        (f"acct-{i % accounts}", envelope(event_id=f"{prefix}-{i}", account_id=f"acct-{i % accounts}"))
        for i in range(n)
    ]


async def total_is(engine: AsyncEngine, schema: str, n: int) -> bool:
    applied = await total(engine, schema)
    assert applied <= n, f"counted {applied} > {n}: an event was applied twice"
    return applied == n


async def total_above(engine: AsyncEngine, schema: str, n: int) -> bool:
    return await total(engine, schema) > n


@asynccontextmanager
async def deployed(
    infra: Infra, plumbing: Setup, handler: BatchHandler, **settings_overrides: Any
) -> AsyncIterator[tuple[Runtime, ConsumerRunner]]:
    """One instance of the counting service (``plumbing_service``) with this handler, in-process: its
    consumer and relay run until the block ends."""
    settings = settings_for(infra, plumbing, **{"consumer_retry_backoff_max_s": 0.4, **settings_overrides})
    runtime = Runtime(settings, tables=build(plumbing.schema, plumbing.out_topic).tables, versions_dir=VERSIONS)
    await runtime.start()
    runner = runtime.consumer_runner(topics=[plumbing.in_topic], handler=handler)
    tasks = [asyncio.create_task(runner.run()), asyncio.create_task(runtime.relay.run())]
    try:
        yield runtime, runner
    finally:
        runner.stop()
        runtime.relay.stop()
        await asyncio.gather(*tasks)
        await runtime.close()
