"""The runner under a database outage and under rebalancing, against real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.app import create_app
from shared.auth import ApiKeys
from shared.runtime import Runtime
from tests.infra import Infra
from tests.integration.plumbing_harness import (
    Setup,
    counts,
    make_events,
    settings_for,
    start_worker,
    total_above,
    total_is,
)
from tests.integration.plumbing_service import VERSIONS, build
from tests.kafka_utils import produce, read_all, wait_for
from tests.proxy import database_proxy
from tests.services import API_KEYS

pytestmark = [pytest.mark.integration, pytest.mark.faults]


async def test_a_database_outage_retries_the_batch_without_dead_lettering_or_losing_it(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    proxy, through_proxy = await database_proxy(infra.database_url)
    settings = settings_for(
        infra, plumbing, database_url=through_proxy, consumer_retry_backoff_max_s=0.5
    )
    service = build(plumbing.schema, plumbing.out_topic)
    runtime = Runtime(settings, tables=service.tables, versions_dir=VERSIONS)
    await runtime.start()
    runner = runtime.consumer_runner(topics=[plumbing.in_topic], handler=service.handle)
    tasks = [asyncio.create_task(runner.run()), asyncio.create_task(runtime.relay.run())]
    try:
        await produce(infra.kafka_bootstrap, plumbing.in_topic, make_events(200, 5, "before"))
        await wait_for(lambda: total_is(engine, plumbing.schema, 200), timeout=60, what="first 200 applied")

        proxy.cut()
        await produce(infra.kafka_bootstrap, plumbing.in_topic, make_events(300, 5, "during"))

        async def unhealthy() -> bool:
            return not runner.healthy

        await wait_for(unhealthy, timeout=30, what="the runner to notice the outage")
        await asyncio.sleep(1.0)
        assert await total_is(engine, plumbing.schema, 200), "nothing can be applied while the DB is away"

        proxy.restore()
        await wait_for(lambda: total_is(engine, plumbing.schema, 500), timeout=60, what="all 500 applied")
        assert runner.healthy
    finally:
        runner.stop()
        runtime.relay.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runtime.close()
        await proxy.close()
    assert await read_all(infra.kafka_bootstrap, plumbing.dlq_topic) == [], "an outage is not the events' fault"
    expected = Counter(k for k, _ in make_events(200, 5, "before") + make_events(300, 5, "during"))
    assert await counts(engine, plumbing.schema) == dict(expected)


async def test_instances_joining_and_leaving_the_group_apply_each_event_once(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    events = make_events(3000, 23, "rebalance")
    first = start_worker(infra, plumbing)
    feeder = asyncio.create_task(produce(infra.kafka_bootstrap, plumbing.in_topic, events))
    await wait_for(lambda: total_above(engine, plumbing.schema, 300), timeout=60, what="first instance working")
    second = start_worker(infra, plumbing)  # joins: partitions move while batches are in flight
    # Its SIGTERM handler is in place once it says READY; a runner this fast can apply the whole feed
    # before the second has started, and a SIGTERM before the handler would kill it (-15), not stop it.
    assert await asyncio.wait_for(asyncio.to_thread(second.stdout.readline), 60) == "READY\n"  # type: ignore[union-attr]
    await wait_for(lambda: total_above(engine, plumbing.schema, 1500), timeout=60, what="both instances working")
    first.send_signal(signal.SIGTERM)  # leaves: its partitions move to the second
    assert await asyncio.to_thread(first.wait, 60) == 0
    await feeder
    try:
        await wait_for(lambda: total_is(engine, plumbing.schema, 3000), timeout=90, what="all 3000 applied")
        assert await counts(engine, plumbing.schema) == dict(Counter(k for k, _ in events))

        async def all_out() -> bool:
            return len(await read_all(infra.kafka_bootstrap, plumbing.out_topic)) >= 3000

        await wait_for(all_out, timeout=60, what="3000 output events")
        ids = [orjson.loads(r.value)["event_id"] for r in await read_all(infra.kafka_bootstrap, plumbing.out_topic)]
        assert len(set(ids)) == 3000
    finally:
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait, 60) == 0


async def test_readyz_reports_the_database_going_away_and_coming_back(infra: Infra, plumbing: Setup) -> None:
    proxy, through_proxy = await database_proxy(infra.database_url)
    settings = settings_for(infra, plumbing, database_url=through_proxy)
    service = build(plumbing.schema, plumbing.out_topic)
    runtime = Runtime(settings, tables=service.tables, versions_dir=VERSIONS)
    await runtime.start()
    app = create_app(service="t", title="t", description="t", api_keys=ApiKeys.parse(API_KEYS),
                     readiness=runtime.readiness_checks())
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["checks"] == {
                "database": True, "kafka": True, "consumers": True}
            proxy.cut()
            down = await http.get("/readyz")
            assert down.status_code == 503 and down.json()["checks"]["database"] is False
            assert down.json()["checks"]["kafka"] is True
            proxy.restore()
            assert (await http.get("/readyz")).status_code == 200
    finally:
        await runtime.close()
        await proxy.close()
