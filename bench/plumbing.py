"""Plumbing benchmark: events/s through the shared consumer runner (trivial handler, batched DB
write, outbox) against raw aiokafka consumption of the same topic on the same broker, same run.

    make bench-plumbing            # N=50000 by default; BENCH_EVENTS=... to change
Writes bench/results/plumbing.json.
"""

from __future__ import annotations

import asyncio
import time

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer

from bench.common import (
    Stopwatch,
    bench_infra,
    load_average,
    new_unique,
    own_cpu_seconds,
    own_peak_rss_mb,
    sized,
    write_result,
)
from shared.db import create_engine
from shared.events import parse_event
from shared.runtime import Runtime
from shared.settings import OrchardSettings, TopicSettings
from tests.integration.plumbing_service import VERSIONS, build
from tests.kafka_utils import create_topic, envelope, produce


async def raw_consume(bootstrap: str, topic: str, n: int) -> float:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"bench-raw-{new_unique()}",
        enable_auto_commit=False, auto_offset_reset="earliest", max_partition_fetch_bytes=4 << 20,
    )
    await consumer.start()
    try:
        seen = 0
        with Stopwatch() as watch:
            while seen < n:
                batch = await consumer.getmany(timeout_ms=200, max_records=1000)
                seen += sum(len(rs) for rs in batch.values())
        return seen / watch.seconds
    finally:
        await consumer.stop()


def decode_validate(payloads: list[bytes]) -> dict[str, float]:
    """The runner's per-record floor: `parse_event` (JSON decode + pydantic validation) on each envelope."""
    cpu = own_cpu_seconds()
    with Stopwatch() as watch:
        for payload in payloads:
            parse_event(payload)
    cpu = own_cpu_seconds() - cpu
    return {"per_s": len(payloads) / watch.seconds, "cpu_s_per_1000_events": 1000 * cpu / len(payloads)}


async def runner_consume(
    bootstrap: str, dsn: str, topic: str, n: int, out_topic: str, *, emit: bool = True
) -> dict[str, float]:
    unique = new_unique()
    schema = f"bench_{unique}"
    settings = OrchardSettings(
        service_name=f"bench-{unique}", kafka_bootstrap=bootstrap, database_url=dsn,
        topics=TopicSettings(dlq=f"bench.dlq.{unique}"),
    )
    service = build(schema, out_topic, emit=emit)
    runtime = Runtime(settings, tables=service.tables, versions_dir=VERSIONS)
    await runtime.start()
    engine = create_engine(dsn, pool_size=1)
    runner = runtime.consumer_runner(topics=[topic], handler=service.handle)
    relay_task = asyncio.create_task(runtime.relay.run())
    started, cpu = time.perf_counter(), own_cpu_seconds()
    task = asyncio.create_task(runner.run())
    try:
        applied = 0
        while applied < n:
            await asyncio.sleep(0.05)
            async with engine.connect() as conn:
                applied = int(await conn.scalar(
                    sa.text(f'SELECT coalesce(sum(events), 0) FROM "{schema}".account_counts')) or 0)
        applied_s, applied_cpu = time.perf_counter() - started, own_cpu_seconds() - cpu
        while True:
            async with engine.connect() as conn:
                if not await conn.scalar(sa.text(f'SELECT count(*) FROM "{schema}".outbox')):
                    break
            await asyncio.sleep(0.05)
        published_s = time.perf_counter() - started
    finally:
        runner.stop()
        await task
        runtime.relay.stop()
        await relay_task
        await runtime.close()
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()
    return {"applied_per_s": n / applied_s, "applied_and_published_per_s": n / published_s,
            "cpu_s_per_1000_events": 1000 * applied_cpu / n}


async def main() -> None:
    n = sized("BENCH_EVENTS", 50_000, 2_000)
    load_at_start = load_average()
    async with bench_infra() as infra:
        unique = new_unique()
        topic, out_topic = f"bench.in.{unique}", f"bench.out.{unique}"
        await create_topic(infra.kafka_bootstrap, topic, partitions=6)
        await create_topic(infra.kafka_bootstrap, out_topic, partitions=6)
        payloads = [envelope(event_id=f"{unique}-{i}", account_id=f"acct-{i % 1000}") for i in range(n)]
        await produce(infra.kafka_bootstrap, topic, ((f"acct-{i % 1000}", v) for i, v in enumerate(payloads)))
        raw = await raw_consume(infra.kafka_bootstrap, topic, n)
        decode = decode_validate(payloads)
        trivial = await runner_consume(infra.kafka_bootstrap, infra.database_url, topic, n, out_topic, emit=False)
        emitting = await runner_consume(infra.kafka_bootstrap, infra.database_url, topic, n, out_topic)
    write_result("plumbing", {
        "events": n,
        "load_average_at_start": load_at_start,
        "raw_aiokafka_consume_per_s": round(raw),
        "runner_trivial_handler_per_s": round(trivial["applied_per_s"]),
        "ratio_runner_to_raw": round(trivial["applied_per_s"] / raw, 3),
        "raw_decode_validate_per_s": round(decode["per_s"]),
        "raw_decode_validate_cpu_s_per_1000_events": round(decode["cpu_s_per_1000_events"], 3),
        "runner_with_outbox_applied_per_s": round(emitting["applied_per_s"]),
        "runner_with_outbox_applied_and_published_per_s": round(emitting["applied_and_published_per_s"]),
        "runner_trivial_cpu_s_per_1000_events": round(trivial["cpu_s_per_1000_events"], 3),
        "runner_with_outbox_cpu_s_per_1000_events": round(emitting["cpu_s_per_1000_events"], 3),
        "peak_rss_mb": own_peak_rss_mb(),
        "notes": "trivial handler: parse+validate, processed-ids insert, one upsert per batch, offset commit per "
                 "batch. with outbox: plus one output event per input through the outbox, published concurrently "
                 "by the relay (acks=all, idempotent). Each runner run uses a fresh consumer group on the same topic.",
    })


if __name__ == "__main__":
    asyncio.run(main())
