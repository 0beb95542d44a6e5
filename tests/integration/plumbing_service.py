"""A minimal service on the shared plumbing, for the plumbing's integration tests and benchmark.

It counts events per account (one set-based upsert per batch) and emits one output event per
input event through the outbox. ``feature == "explode"`` makes the handler reject the batch
(``EventRejected``), to exercise the runner's isolation of a poison event. Run as a process by the crash tests:
``python -m tests.integration.plumbing_service`` with PLUMBING_* variables.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.consumer import BatchContext, BatchHandler, ConsumedEvent, ConsumerRunner
from shared.db import PlumbingTables, plumbing_tables
from shared.logs import configure_logging
from shared.outbox import OutboxRelay
from shared.rejection import EventRejected
from shared.runtime import Runtime
from shared.settings import OrchardSettings

VERSIONS = Path(__file__).resolve().parent / "plumbing_migrations"


class Counted(BaseModel):
    event_id: str
    account_id: str
    source_event_id: str


@dataclass(frozen=True)
class CountingService:
    tables: PlumbingTables
    counts: sa.Table
    handle: BatchHandler


def build(schema: str, out_topic: str, *, emit: bool = True) -> CountingService:
    metadata = sa.MetaData(schema=schema)
    tables = plumbing_tables(metadata)
    counts = sa.Table(
        "account_counts",
        metadata,
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("events", sa.BigInteger, nullable=False),
    )

    async def handle(ctx: BatchContext, events: Sequence[ConsumedEvent]) -> None:
        if any(getattr(e.parsed.data, "feature", None) == "explode" for e in events):
            raise EventRejected("this event cannot be applied")
        per_account = Counter(e.parsed.account_id for e in events)
        # One set-based statement whose text does not depend on the batch (arrays unnested server-side),
        # as the services' stores write: a VALUES list of one row per account is compiled anew per batch.
        await ctx.session.execute(sa.text(
            f'INSERT INTO "{schema}".account_counts (account_id, events) '
            "SELECT * FROM unnest(CAST(:accounts AS text[]), CAST(:events AS bigint[])) "
            "ON CONFLICT (account_id) DO UPDATE SET events = account_counts.events + excluded.events"),
            {"accounts": list(per_account), "events": list(per_account.values())})
        if not emit:
            return
        for e in events:
            ctx.outbox.emit(
                topic=out_topic,
                key=e.parsed.account_id,
                event=Counted(event_id=f"counted:{e.parsed.event_id}", account_id=e.parsed.account_id,
                              source_event_id=e.parsed.event_id),
            )

    return CountingService(tables, counts, handle)


class CrashingRunner(ConsumerRunner):
    """Dies by SIGKILL after its first batch is durable in the DB and before its offsets commit."""

    async def commit_offsets(self, records):
        os.kill(os.getpid(), signal.SIGKILL)


class CrashingAheadRunner(ConsumerRunner):
    """Dies by SIGKILL once its first batch and the batch fetched behind it are both durable in the DB,
    before the first batch's offsets are committed: the pipelining's widest window."""

    async def commit_offsets(self, records):
        for _ in range(500):  # the next batch's transaction starts right after this commit is scheduled
            if self._applying is not None:
                await asyncio.wait({self._applying.task})
                break
            await asyncio.sleep(0.01)
        os.kill(os.getpid(), signal.SIGKILL)


class CrashingRelay(OutboxRelay):
    """Dies by SIGKILL after its first Kafka transaction commits and before it deletes those rows."""

    async def forget_published(self, leadership: AsyncConnection, batch: int) -> None:
        os.kill(os.getpid(), signal.SIGKILL)


async def main() -> None:
    schema = os.environ["PLUMBING_SCHEMA"]
    settings = OrchardSettings(service_name=os.environ.get("PLUMBING_SERVICE", "plumbing"))
    service = build(schema, os.environ["PLUMBING_OUT_TOPIC"])
    crash = os.environ.get("PLUMBING_CRASH")
    runtime = Runtime(settings, tables=service.tables, versions_dir=VERSIONS,
                      runner_class={"after_db_commit": CrashingRunner,
                                    "after_next_db_commit": CrashingAheadRunner}.get(crash or "", ConsumerRunner),
                      relay_class=CrashingRelay if crash == "after_publish" else OutboxRelay)
    await runtime.start()
    runner = runtime.consumer_runner(topics=[os.environ["PLUMBING_IN_TOPIC"]], handler=service.handle)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    consume = asyncio.create_task(runner.run())
    relay = asyncio.create_task(runtime.relay.run())
    print("READY", flush=True)
    await stopping.wait()
    runner.stop()
    await consume
    runtime.relay.stop()
    await relay
    await runtime.close()
    print("STOPPED", flush=True)


if __name__ == "__main__":
    configure_logging(service="plumbing-test", level=os.environ.get("ORCHARD_LOG_LEVEL", "WARNING"))
    asyncio.run(main())
