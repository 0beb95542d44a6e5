"""The four services as real processes (``python -m services.<name>``, the production wiring) on topics
and schemas of their own, fed over HTTP at a steady rate, with their consumer groups' lag watched:
what bench.pipeline (rising rates) and bench.soak (one rate held) both run."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.common import ProcessMeter, new_unique, start_service
from bench.ingest import topic_env
from shared.db import create_engine
from shared.settings import TopicSettings
from tests.infra import free_port

KEY = "bench-pipeline-key"
CONSUMERS = ("health", "renewals", "expansion")
SERVICES = ("ingest", *CONSUMERS)


@dataclass
class Pipeline:
    unique: str
    topics: TopicSettings
    ports: dict[str, int]
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    def group(self, service: str) -> str:
        return f"orchard-{service}-bench-{self.unique}"  # shared.runtime: orchard-<service_name>

    def schema(self, service: str) -> str:
        return f"bench_{service}_{self.unique}"


async def start_pipeline(bootstrap: str, dsn: str) -> Pipeline:
    unique = new_unique()
    topics = TopicSettings.model_validate({name: f"bench.{name}.{unique}" for name in TopicSettings.model_fields})
    pipeline = Pipeline(unique, topics, {s: free_port(18101 + i) for i, s in enumerate(SERVICES)})
    common = {
        "ORCHARD_KAFKA_BOOTSTRAP": bootstrap, "ORCHARD_DATABASE_URL": dsn, "ORCHARD_LOG_LEVEL": "WARNING",
        "ORCHARD_API_KEYS": orjson.dumps({KEY: ["ingest:write", "read", "write"]}).decode(),
        "ORCHARD_HEALTH_RESCORE_INTERVAL_S": "3600", "ORCHARD_RENEWALS_PASS_INTERVAL_S": "3600",
        **topic_env(topics),
    }
    started = await asyncio.gather(*(start_service(f"services.{service}", {
        **common,
        "ORCHARD_SERVICE_NAME": f"{service}-bench-{unique}",
        f"ORCHARD_{service.upper()}_PORT": str(pipeline.ports[service]),
        f"ORCHARD_{service.upper()}_SCHEMA": pipeline.schema(service),
    }, port=pipeline.ports[service]) for service in SERVICES), return_exceptions=True)
    for service, process in zip(SERVICES, started, strict=True):
        if isinstance(process, asyncio.subprocess.Process):
            pipeline.processes[service] = process
    failed = [p for p in started if isinstance(p, BaseException)]
    if failed:
        await stop_pipeline(pipeline, dsn)
        raise failed[0]
    return pipeline


async def stop_pipeline(pipeline: Pipeline, dsn: str) -> None:
    for process in pipeline.processes.values():
        if process.returncode is None:
            process.terminate()
    for process in pipeline.processes.values():
        await process.wait()
    engine = create_engine(dsn, pool_size=1)
    async with engine.begin() as conn:
        for service in SERVICES:
            await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{pipeline.schema(service)}" CASCADE'))
    await engine.dispose()


class Lag:
    """Each consumer group's lag (events), sampled every second: end offsets minus committed offsets
    over the partitions of every topic the group has committed on."""

    def __init__(self, bootstrap: str, groups: dict[str, str]) -> None:
        self.groups = groups
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()

    async def close(self) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def now(self) -> dict[str, int]:
        committed = {name: await self._admin.list_consumer_group_offsets(group) for name, group in self.groups.items()}
        topics = {tp.topic for offsets in committed.values() for tp in offsets}
        await self._consumer._client.force_metadata_update()
        tps = [TopicPartition(t, p) for t in topics for p in self._consumer.partitions_for_topic(t) or ()]
        ends = await self._consumer.end_offsets(tps) if tps else {}
        out = {}
        for name, offsets in committed.items():
            mine = {tp.topic for tp in offsets}
            out[name] = sum(end - max(offsets[tp].offset, 0) if tp in offsets else end
                            for tp, end in ends.items() if tp.topic in mine)
        return out

    async def run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), await self.now()))
            await asyncio.sleep(1.0)


async def post(http: httpx.AsyncClient, events: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    body = orjson.dumps({"events": events})
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    for attempt in range(3):
        try:
            reply = await http.post("/v1/events", content=body, headers=headers)
            break
        except httpx.TransportError:  # a kept-alive connection the server closed: the ids make a re-send safe
            if attempt == 2:
                raise
    answer = reply.json() if reply.status_code == 202 else {}
    if answer.get("accepted", 0) + answer.get("duplicates", 0) != len(events):
        raise RuntimeError(f"POST answered {reply.status_code}: {reply.text[:300]}")
    return time.perf_counter() - started


async def wait_drained(lag: Lag, *, within_s: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        if not any((await lag.now()).values()):
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    return None


@dataclass
class Fed:
    sent: int
    seconds: float
    post_seconds: list[float]
    """Each POST's time, from its start to ingest's answer."""


async def feed_steadily(
    http: httpx.AsyncClient, book: Iterator[dict[str, Any]], *, rate: int, seconds: float,
    extra: Callable[[float], list[dict[str, Any]]] = lambda _now: [],
) -> Fed:
    """`rate` events/s from `book` for `seconds`, in ten POSTs a second (as many producers would send);
    `extra(now)` returns events to send beside the book's at that moment, in a request of their own."""
    batch = max(1, min(500, rate // 10))
    interval = batch / rate
    in_flight: set[asyncio.Task[float]] = set()
    latencies: list[float] = []
    sent = 0
    started = time.monotonic()
    tick = 0
    while (now := time.monotonic()) - started < seconds:
        if side := extra(now):
            in_flight.add(asyncio.create_task(post(http, side)))
        events = [e for _, e in zip(range(batch), book, strict=False)]
        if len(in_flight) >= 32:  # ingest is behind: wait for it rather than pile up requests
            done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            latencies.extend(t.result() for t in done)
        in_flight.add(asyncio.create_task(post(http, events)))
        sent += len(events)
        tick += 1
        await asyncio.sleep(max(0.0, started + tick * interval - time.monotonic()))
        done = {t for t in in_flight if t.done()}
        latencies.extend(t.result() for t in done)
        in_flight -= done
    latencies.extend(await asyncio.gather(*in_flight))
    return Fed(sent, time.monotonic() - started, latencies)


def lag_budget() -> float:
    """How many seconds of events a consumer may be behind while it keeps up (also bench.soak's bound)."""
    return float(os.environ.get("BENCH_PIPELINE_LAG_BUDGET_S", "5"))


@dataclass
class Running:
    """A started pipeline, its lag watched every second, and an HTTP client for its ingest."""

    pipeline: Pipeline
    lag: Lag
    http: httpx.AsyncClient
    watchers: list[asyncio.Task[None]]

    def watch(self, watcher: Coroutine[Any, Any, None]) -> None:
        """Runs `watcher` beside the feed until the pipeline stops."""
        self.watchers.append(asyncio.create_task(watcher))

    def check(self) -> None:
        for task in self.watchers:
            if task.done():
                task.result()  # a watcher that failed fails the run, never skews it

    def peak_rss_mb(self) -> dict[str, float]:
        return {s: ProcessMeter(p.pid).peak_rss_mb() for s, p in self.pipeline.processes.items()}


@asynccontextmanager
async def running_pipeline(bootstrap: str, dsn: str) -> AsyncIterator[Running]:
    """`start_pipeline`, the lag watcher and the client; at the end, the watchers stopped and `stop_pipeline`."""
    pipeline = await start_pipeline(bootstrap, dsn)
    lag = Lag(bootstrap, {s: pipeline.group(s) for s in CONSUMERS})
    running: Running | None = None
    try:
        await lag.start()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{pipeline.ports['ingest']}", timeout=60,
                                     # below uvicorn's 5 s keep-alive, so no request meets a closing socket
                                     limits=httpx.Limits(max_connections=40, keepalive_expiry=2)) as http:
            running = Running(pipeline, lag, http, [])
            running.watch(lag.run())
            yield running
    finally:
        if running:
            for task in running.watchers:
                task.cancel()
            await asyncio.gather(*running.watchers, return_exceptions=True)
        await lag.close()
        await stop_pipeline(pipeline, dsn)
