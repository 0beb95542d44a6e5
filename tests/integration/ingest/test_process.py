"""``python -m services.ingest`` as operators run it: starts, serves, consumes, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx
import orjson
import pytest

from tests.infra import REPO, Infra, free_port
from tests.integration.ingest.harness import WRITER, event_ids, produce_large
from tests.kafka_utils import read_all, wait_for
from tests.services import API_KEYS, topics_for
from tests.unit.ingest.factories import make_event

pytestmark = pytest.mark.integration


async def test_the_service_process_ingests_both_ways_and_stops_on_sigterm(
    infra: Infra, schema: str, unique: str
) -> None:
    port, topics = free_port(), topics_for(unique)
    env = {
        **os.environ,
        "ORCHARD_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "ORCHARD_DATABASE_URL": infra.database_url,
        "ORCHARD_SERVICE_NAME": f"ingest-{unique}",
        "ORCHARD_INGEST_PORT": str(port),
        "ORCHARD_INGEST_SCHEMA": schema,
        "ORCHARD_API_KEYS": orjson.dumps(API_KEYS).decode(),
        "ORCHARD_LOG_LEVEL": "WARNING",
        **{f"ORCHARD_TOPIC_{name.upper()}": topic for name, topic in topics.model_dump().items()},
    }
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.ingest", cwd=REPO, env=env)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            async def ready() -> bool:
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(ready, timeout=30, what="the service ready")
            by_http, by_kafka = make_event(), make_event()
            reply = await http.post("/v1/events", content=orjson.dumps(by_http), headers=WRITER)
            assert (reply.status_code, reply.json()["accepted"]) == (202, 1)
            await produce_large(infra.kafka_bootstrap, topics.raw, [("acct-1", orjson.dumps(by_kafka))])

            async def both_routed() -> bool:
                return len(await read_all(infra.kafka_bootstrap, topics.usage)) >= 2

            await wait_for(both_routed, timeout=30, what="both events routed")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        routed = event_ids(await read_all(infra.kafka_bootstrap, topics.usage))
        assert sorted(routed) == sorted([by_http["event_id"], by_kafka["event_id"]])
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
