"""A health worker process for the crash tests: the service's consumer and relay, wired as in
``__main__`` from ``ORCHARD_*`` variables. ``HEALTH_CRASH=after_db_commit`` makes it die by SIGKILL
after its first batch is durable in the DB and before its offsets are committed."""

from __future__ import annotations

import asyncio
import os
import signal

from services.health.service import build_service
from services.health.settings import HealthSettings
from shared.consumer import ConsumerRunner
from shared.logs import configure_logging


class CrashingRunner(ConsumerRunner):
    async def commit_offsets(self, records):  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), signal.SIGKILL)


async def main() -> None:
    crash = os.environ.get("HEALTH_CRASH") == "after_db_commit"
    service = build_service(HealthSettings(), runner_class=CrashingRunner if crash else ConsumerRunner)
    await service.runtime.start()
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    consume = asyncio.create_task(service.runner.run())
    relay = asyncio.create_task(service.runtime.relay.run())
    await stopping.wait()
    service.runner.stop()
    await consume
    service.runtime.relay.stop()
    await relay
    await service.runtime.close()


if __name__ == "__main__":
    configure_logging(service="health-test-worker", level=os.environ.get("ORCHARD_LOG_LEVEL", "WARNING"))
    asyncio.run(main())
