"""An outbox relay on its own, as a process the outbox tests can SIGKILL mid-batch.

``python -m tests.integration.outbox_relay_worker`` with RELAY_SCHEMA and RELAY_PROGRESS_TOPIC (and
the usual ORCHARD_KAFKA_BOOTSTRAP / ORCHARD_DATABASE_URL). Prints LEADING once it holds the lead.
With RELAY_HANG_AFTER_ROWS=n, once it has published n rows it claims one more batch, sends it in its
Kafka transaction, prints HANGING and waits forever before committing: the worst moment to die.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from shared.db import create_engine, plumbing_tables
from shared.logs import configure_logging
from shared.outbox import OutboxRelay
from tests.kafka_utils import wait_for


class HangingRelay(OutboxRelay):
    def __init__(self, *, hang_after_rows: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._hang_after_rows = hang_after_rows
        self._published = 0

    async def _send(self, producer: AIOKafkaProducer, rows: Sequence[Any], batch: int) -> None:
        if self._published >= self._hang_after_rows:
            async def hang(*args: object, **kwargs: object) -> None:
                print("HANGING", flush=True)
                await asyncio.Event().wait()

            producer.send_offsets_to_transaction = hang  # type: ignore[method-assign]
        await super()._send(producer, rows, batch)
        self._published += len(rows)


async def main() -> None:
    engine = create_engine(os.environ["ORCHARD_DATABASE_URL"], pool_size=2, application_name="relay-worker")
    relay = HangingRelay(
        hang_after_rows=int(os.environ.get("RELAY_HANG_AFTER_ROWS", sys.maxsize)),
        service="relay-worker",
        engine=engine,
        table=plumbing_tables(sa.MetaData(schema=os.environ["RELAY_SCHEMA"])).outbox,
        bootstrap=os.environ["ORCHARD_KAFKA_BOOTSTRAP"],
        progress_topic=os.environ["RELAY_PROGRESS_TOPIC"],
        batch_size=int(os.environ.get("RELAY_BATCH_SIZE", "200")),
        idle_poll_s=0.05,
        leader_poll_s=0.1,
    )
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, relay.stop)
    task = asyncio.create_task(relay.run())

    async def leading() -> bool:
        return relay.is_leader

    await wait_for(leading, timeout=60, what="the lead")
    print("LEADING", flush=True)
    await task
    await engine.dispose()


if __name__ == "__main__":
    configure_logging(service="relay-worker", level=os.environ.get("ORCHARD_LOG_LEVEL", "WARNING"))
    asyncio.run(main())
