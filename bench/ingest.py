"""Ingest benchmark: the real service process (uvicorn) on a spare port, against the same broker as
the ceiling, in one run.

- HTTP: batches of 500 events from a few concurrent clients; events/s accepted, p50/p99 latency;
- Kafka path: a burst on the raw topic until all of it is on the canonical topics; events/s;
- ceiling: aiokafka producing the same events (acks=all, idempotent, as the service does).

    make bench-ingest    # BENCH_HTTP_EVENTS, BENCH_KAFKA_EVENTS, BENCH_CLIENTS, BENCH_PORT to change
Writes bench/results/ingest.json.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.common import (
    ProcessMeter,
    Stopwatch,
    bench_infra,
    load_average,
    new_unique,
    sized,
    start_service,
    write_result,
)
from shared.db import create_engine
from shared.kafka import make_producer
from shared.settings import TopicSettings
from tests.infra import free_port
from tests.kafka_utils import create_topic

BATCH = 500
KEY = "bench-key"
TYPES = ("usage.recorded",) * 6 + ("interaction.logged", "ticket.opened", "survey.answered", "contract.renewed")
DATA: dict[str, dict[str, Any]] = {
    "usage.recorded": {"feature": "reports.export", "quantity": 3, "user_id": "u-1"},
    "interaction.logged": {"channel": "call", "direction": "outbound", "summary": "check-in"},
    "ticket.opened": {"ticket_id": "T-1", "severity": "normal"},
    "survey.answered": {"kind": "nps", "score": 8},
    "contract.renewed": {"contract_id": "C-1", "arr": "50000", "seats": 20, "products": ["core"],
                         "start_date": "2026-01-01", "end_date": "2027-01-01"},
}


def events(prefix: str, n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        event_type = TYPES[i % len(TYPES)]
        yield {
            "event_id": f"{prefix}-{i}",
            "type": event_type,
            "schema_version": 1,
            "account_id": f"acct-{i % 1000}",
            "occurred_at": "2026-11-20T09:30:00Z",
            "source": "bench",
            "data": DATA[event_type],
        }


async def start_ingest(
    bootstrap: str, dsn: str, *, port: int, schema: str, unique: str, topics: TopicSettings
) -> asyncio.subprocess.Process:
    return await start_service("services.ingest", {
        "ORCHARD_KAFKA_BOOTSTRAP": bootstrap,
        "ORCHARD_DATABASE_URL": dsn,
        "ORCHARD_SERVICE_NAME": f"ingest-bench-{unique}",
        "ORCHARD_INGEST_PORT": str(port),
        "ORCHARD_INGEST_SCHEMA": schema,
        "ORCHARD_API_KEYS": orjson.dumps({KEY: ["ingest:write"]}).decode(),
        "ORCHARD_LOG_LEVEL": "WARNING",
        **topic_env(topics),
    }, port=port)


def topic_env(topics: TopicSettings) -> dict[str, str]:
    return {f"ORCHARD_TOPIC_{name.upper()}": topic for name, topic in topics.model_dump().items()}


async def http_phase(port: int, n: int, clients: int, prefix: str) -> dict[str, float]:
    bodies = [
        orjson.dumps({"events": list(events(f"{prefix}-{start}", min(BATCH, n - start)))})
        for start in range(0, n, BATCH)
    ]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    accepted = 0

    async def client() -> None:
        nonlocal accepted
        headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                reply = await http.post("/v1/events", content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if reply.status_code != 202:
                    raise RuntimeError(f"POST answered {reply.status_code}: {reply.text[:300]}")
                accepted += reply.json()["accepted"]

    with Stopwatch() as watch:
        await asyncio.gather(*(client() for _ in range(clients)))
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "events": accepted,
        "requests": len(latencies),
        "events_per_s": accepted / watch.seconds,
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
    }


async def produce_rate(bootstrap: str, topic: str, payloads: list[tuple[bytes, bytes]]) -> float:
    producer = make_producer(bootstrap, client_id="bench-ingest-raw")
    await producer.start()
    try:
        with Stopwatch() as watch:
            sent = [await producer.send(topic, value=value, key=key) for key, value in payloads]
            await asyncio.gather(*sent)
        return len(payloads) / watch.seconds
    finally:
        await producer.stop()


async def routed_count(bootstrap: str, topics: TopicSettings) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [
            TopicPartition(topic, p)
            for topic in (topics.usage, topics.interaction, topics.contract)
            for p in (consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))
        ]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


async def kafka_phase(bootstrap: str, topics: TopicSettings, n: int, prefix: str) -> dict[str, float]:
    before = await routed_count(bootstrap, topics)
    payloads = [(e["account_id"].encode(), orjson.dumps(e)) for e in events(prefix, n)]
    started = time.perf_counter()
    produced_per_s = await produce_rate(bootstrap, topics.raw, payloads)
    deadline = started + 300
    while (routed := await routed_count(bootstrap, topics) - before) < n:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {routed} of {n} raw events routed in 300 s")
        await asyncio.sleep(0.1)
    return {"events": n, "events_per_s": n / (time.perf_counter() - started), "burst_produced_per_s": produced_per_s}


async def main() -> None:
    http_n = sized("BENCH_HTTP_EVENTS", 60_000, 2_000)
    kafka_n = sized("BENCH_KAFKA_EVENTS", 60_000, 2_000)
    clients = int(os.environ.get("BENCH_CLIENTS", "4"))
    load_at_start = load_average()
    unique = new_unique()
    topics = TopicSettings.model_validate({name: f"bench.{name}.{unique}" for name in TopicSettings.model_fields})
    schema = f"bench_ingest_{unique}"
    port = free_port(int(os.environ.get("BENCH_PORT", "18001")))
    async with bench_infra() as infra:
        # The ceiling first, on an idle broker: the same events, the service's producer settings.
        ceiling_topic = f"bench.ceiling.{unique}"
        await create_topic(infra.kafka_bootstrap, ceiling_topic, partitions=6)
        payloads = [(e["account_id"].encode(), orjson.dumps(e)) for e in events(f"{unique}-c", kafka_n)]
        ceiling = await produce_rate(infra.kafka_bootstrap, ceiling_topic, payloads)

        process = await start_ingest(
            infra.kafka_bootstrap, infra.database_url, port=port, schema=schema, unique=unique, topics=topics
        )
        try:
            meter = ProcessMeter(process.pid)
            await http_phase(port, 4 * clients * BATCH, clients, f"{unique}-warm")
            cpu = meter.cpu_seconds()
            http = await http_phase(port, http_n, clients, f"{unique}-h")
            http["cpu_s_per_1000_events"], cpu = 1000 * (meter.cpu_seconds() - cpu) / http_n, meter.cpu_seconds()
            kafka = await kafka_phase(infra.kafka_bootstrap, topics, kafka_n, f"{unique}-k")
            kafka["cpu_s_per_1000_events"] = 1000 * (meter.cpu_seconds() - cpu) / kafka_n
            peak_rss_mb = meter.peak_rss_mb()
        finally:
            process.terminate()
            await process.wait()
            engine = create_engine(infra.database_url, pool_size=1)
            async with engine.begin() as conn:
                await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await engine.dispose()
    write_result("ingest", {
        "http": {"batch": BATCH, "clients": clients, **{k: round(v, 3) for k, v in http.items()}},
        "kafka_path": {k: round(v, 3) for k, v in kafka.items()},
        "ingest_peak_rss_mb": peak_rss_mb,
        "load_average_at_start": load_at_start,
        "raw_aiokafka_produce_per_s": round(ceiling),
        "ratio_http_to_raw_produce": round(http["events_per_s"] / ceiling, 3),
        "ratio_kafka_path_to_raw_produce": round(kafka["events_per_s"] / ceiling, 3),
        "notes": "One ingest process (uvicorn, one event loop) on the same machine (2 CPUs) as Kafka, Postgres "
                 "and the clients. HTTP, after an unmeasured warm-up of 4 requests per client (new DB connections, "
                 "producer metadata): validate + normalise each event, one INSERT..ON CONFLICT per request, "
                 "produce acks=all and wait, commit, reply. Kafka path: runner batch (parse, processed-ids insert, "
                 "outbox insert, offsets) + outbox relay publishing to the canonical topics; rate = burst size / "
                 "time until all of it is on the canonical topics. Ceiling: aiokafka, acks=all, idempotent, same "
                 "events. CPU: the ingest process's user+system seconds over each phase (/proc), per 1,000 "
                 "events; peak RSS: its VmHWM.",
    })


if __name__ == "__main__":
    asyncio.run(main())
