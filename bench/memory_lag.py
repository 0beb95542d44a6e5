"""Memory under a lagging consumer: does health's resident memory grow with its lag, and is that
growth bounded by the consumer's fetch sizes (aiokafka's prefetch) or by something else?

One book (bench.health's feed: a contract, contacts, usage, a call and a survey per account) is put on
the canonical topics once. Then health runs as a process (``python -m services.health``, the
production wiring), each run with a consumer group and a schema of its own, in these modes:

- ``backlog``: the whole book is on the topics before health starts: it is behind by all of it and
  reads full batches (``ORCHARD_CONSUMER_MAX_RECORDS``) with aiokafka prefetching ahead of them;
- ``live``: health starts on empty topics and the same book is produced at a rate it keeps up with
  (``BENCH_MEMORY_LIVE_RATE``): it is never more than a few hundred records behind.

The backlog runs again with small fetch sizes (``ORCHARD_CONSUMER_FETCH_MAX_BYTES`` /
``ORCHARD_CONSUMER_MAX_PARTITION_FETCH_BYTES`` 1 MiB / 256 KiB instead of 16 MiB / 4 MiB) and with
batches of 100, with glibc's mmap threshold at 64 KiB, and once more under tracemalloc (started in the service
process, snapshots on SIGUSR1: half-way through the book, and 15 s after it was all applied), which says
where the traced memory is: aiokafka (prefetched records and buffers), the services' code (the batch
in flight), SQLAlchemy and asyncpg, the rest.

    make bench-memory                  # BENCH_MEMORY_EVENTS=20000
    BENCH_QUICK=1 make bench-memory    # 3,000 events: only shows that it runs
Writes bench/results/memory_lag.json.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import time
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import (
    ProcessMeter,
    bench_infra,
    load_average,
    new_unique,
    sized,
    start_service,
    write_result,
)
from bench.health import feed, produce_feed
from bench.ingest import topic_env
from shared.db import create_engine
from shared.events import topic_kind
from shared.settings import TopicSettings
from tests.faults.observe import drop_schemas, group_lag, outbox_backlog
from tests.infra import free_port
from tests.kafka_utils import produce

SERVE = "BENCH_MEMORY_LAG_SERVE"
"""Set in the service process's environment: run health (under tracemalloc when BENCH_MEMORY_TRACE
names a folder for the snapshots) instead of the bench."""
MIB = 1024 * 1024
SMALL_FETCH = {"ORCHARD_CONSUMER_FETCH_MAX_BYTES": str(1 * MIB),
               "ORCHARD_CONSUMER_MAX_PARTITION_FETCH_BYTES": str(256 * 1024)}
RUNS: dict[str, tuple[str, dict[str, str], bool]] = {
    # label: (mode, settings, traced)
    "backlog": ("backlog", {}, False),
    "live": ("live", {}, False),
    "backlog_small_fetch": ("backlog", SMALL_FETCH, False),
    "backlog_batches_of_100": ("backlog", {"ORCHARD_CONSUMER_MAX_RECORDS": "100"}, False),
    # glibc's malloc serves blocks over 64 KiB with mmap and gives them back on free (its default
    # threshold rises to 32 MiB as large blocks are freed, so fetch buffers end up on the heap, kept).
    "backlog_mmap_64k": ("backlog", {"MALLOC_MMAP_THRESHOLD_": "65536"}, False),
    "backlog_traced": ("backlog", {}, True),
}
TRACED_LIVE: dict[str, tuple[str, dict[str, str], bool]] = {"live_traced": ("live", {}, True)}
"""Only when asked for (BENCH_MEMORY_RUNS=live_traced): tracing slows health four- to fivefold, so a
live feed it kept up with untraced becomes a backlog."""
SETTLE_S = 15.0


def serve() -> None:
    """Health, with a tracemalloc snapshot written on each SIGUSR1 (numbered) when asked for."""
    folder = os.environ.get("BENCH_MEMORY_TRACE")
    if folder:
        tracemalloc.start()
        taken = [0]

        def dump(_signum: int, _frame: object) -> None:
            taken[0] += 1
            partial = Path(folder) / f"{taken[0]}.partial"
            current, peak = tracemalloc.get_traced_memory()
            # The peak since the previous snapshot: the high-water mark of Python's own allocations.
            (Path(folder) / f"{taken[0]}.json").write_bytes(orjson.dumps({"current": current, "peak": peak}))
            tracemalloc.reset_peak()
            tracemalloc.take_snapshot().dump(str(partial))
            partial.rename(partial.with_suffix(".snapshot"))

        signal.signal(signal.SIGUSR1, dump)
    from services.health.__main__ import main as health_main

    health_main()


def _area(filename: str) -> str:
    for marker, area in (("/aiokafka/", "aiokafka"), ("/services/", "services"), ("/shared/", "shared"),
                         ("/sqlalchemy/", "sqlalchemy"), ("/asyncpg/", "asyncpg"), ("/orjson", "orjson"),
                         ("/pydantic", "pydantic")):
        if marker in filename:
            return area
    return "other"


def _traced(snapshot: tracemalloc.Snapshot) -> dict[str, float]:
    areas: dict[str, float] = {}
    for stat in snapshot.statistics("filename"):
        area = _area(stat.traceback[0].filename)
        areas[area] = areas.get(area, 0.0) + stat.size / MIB
    return {area: round(size, 2) for area, size in sorted(areas.items(), key=lambda a: -a[1])}


def compare_snapshots(folder: Path) -> dict[str, Any]:
    """Traced memory by area half-way through the book and once it was applied, and the lines that
    held most more half-way (what the lag holds that a caught-up consumer does not)."""
    lagging = tracemalloc.Snapshot.load(str(folder / "1.snapshot"))
    settled = tracemalloc.Snapshot.load(str(folder / "2.snapshot"))
    top = [{"where": f"{s.traceback[0].filename.split('site-packages/')[-1].split('s5-faults/')[-1]}:"
                     f"{s.traceback[0].lineno}", "mib": round(s.size_diff / MIB, 2)}
           for s in lagging.compare_to(settled, "lineno")[:12]]
    halfway, after = _traced(lagging), _traced(settled)
    peaks = [orjson.loads((folder / f"{n}.json").read_bytes())["peak"] / MIB for n in (1, 2)]
    return {"halfway_mib": halfway, "after_mib": after, "halfway_total_mib": round(sum(halfway.values()), 1),
            "after_total_mib": round(sum(after.values()), 1),
            "peak_first_half_mib": round(peaks[0], 1), "peak_second_half_mib": round(peaks[1], 1),
            "halfway_minus_after_top_lines": top}


async def _produce_live(bootstrap: str, topics: TopicSettings, events: Sequence[dict[str, Any]], rate: int) -> None:
    """The book at `rate` events/s, in one-second chunks, each topic's share of a chunk at once."""
    for start in range(0, len(events), rate):
        began = time.monotonic()
        by_topic: dict[str, list[tuple[str, bytes]]] = {}
        for e in events[start:start + rate]:
            by_topic.setdefault(topics.canonical(topic_kind(e["type"])), []).append((e["account_id"], orjson.dumps(e)))
        await asyncio.gather(*(produce(bootstrap, topic, records) for topic, records in by_topic.items()))
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - began)))


async def one_run(infra: Any, engine: AsyncEngine, topics: TopicSettings, events: Sequence[dict[str, Any]], *,
                  mode: str, settings: dict[str, str], traced: bool, folder: Path, live_rate: int) -> dict[str, Any]:
    unique = new_unique()
    schema, port, service_name = f"bench_memory_{unique}", free_port(18201), f"health-memory-{unique}"
    run_topics = topics if mode == "backlog" else TopicSettings.model_validate(
        {name: f"bench.{name}.{unique}" for name in TopicSettings.model_fields})
    canonical = [run_topics.usage, run_topics.interaction, run_topics.contract]
    snapshots = folder / unique
    snapshots.mkdir(parents=True)
    env = {
        SERVE: "1", "ORCHARD_KAFKA_BOOTSTRAP": infra.kafka_bootstrap, "ORCHARD_DATABASE_URL": infra.database_url,
        "ORCHARD_API_KEYS": orjson.dumps({"bench-memory-key": ["read"]}).decode(), "ORCHARD_LOG_LEVEL": "WARNING",
        "ORCHARD_SERVICE_NAME": service_name, "ORCHARD_HEALTH_PORT": str(port), "ORCHARD_HEALTH_SCHEMA": schema,
        "ORCHARD_HEALTH_RESCORE_INTERVAL_S": "3600", **topic_env(run_topics), **settings,
        **({"BENCH_MEMORY_TRACE": str(snapshots)} if traced else {}),
    }
    process = await start_service("bench.memory_lag", env, port=port)
    meter, group = ProcessMeter(process.pid), f"orchard-{service_name}"
    samples: list[dict[str, float]] = []
    started = time.monotonic()
    producing = asyncio.create_task(_produce_live(infra.kafka_bootstrap, run_topics, events, live_rate)) \
        if mode == "live" else None
    halfway_taken = False
    try:
        applied_at: float | None = None
        while True:
            lag = await group_lag(infra.kafka_bootstrap, group, canonical)
            now = time.monotonic() - started
            samples.append({"t_s": round(now, 1), "rss_mib": meter.rss_mib(), "lag_records": lag})
            fed = producing is None or producing.done()
            done_share = 1 - lag / len(events) if producing is None else now * live_rate / len(events)
            if traced and not halfway_taken and done_share >= 0.5:
                process.send_signal(signal.SIGUSR1)
                halfway_taken = True
            if applied_at is None and fed and lag == 0 and not await outbox_backlog(engine, [schema]):
                applied_at = now
            if applied_at is not None and now - applied_at >= SETTLE_S:
                break
            await asyncio.sleep(0.5)
        if traced:
            process.send_signal(signal.SIGUSR1)
            for _ in range(600):  # a snapshot file appears whole (renamed once written)
                if (snapshots / "2.snapshot").exists():
                    break
                await asyncio.sleep(0.5)
    finally:
        if producing is not None:
            producing.cancel()
        process.terminate()
        await process.wait()
        await drop_schemas(engine, [schema])
    during = [s["rss_mib"] for s in samples if s["t_s"] <= applied_at]
    after = [s["rss_mib"] for s in samples if s["t_s"] > applied_at]
    figures: dict[str, Any] = {
        "mode": mode, "settings": settings, "traced": traced, "applied_s": round(applied_at, 1),
        "max_lag_records": max(int(s["lag_records"]) for s in samples),
        "rss_mib": {"first": samples[0]["rss_mib"], "peak_while_applying": max(during),
                    "median_while_applying": round(statistics.median(during), 1),
                    "after_caught_up": round(statistics.median(after), 1)},
        "samples": samples,
    }
    if traced:
        figures["tracemalloc"] = compare_snapshots(snapshots)
    return figures


async def main() -> None:
    events_count = sized("BENCH_MEMORY_EVENTS", 20_000, 3_000)
    live_rate = int(os.environ.get("BENCH_MEMORY_LIVE_RATE", "100"))
    chosen = [r for r in os.environ.get("BENCH_MEMORY_RUNS", ",".join(RUNS)).split(",") if r]
    now = datetime.now(UTC)
    events = feed(max(events_count // 10, 1), events_count, now=now)
    results: dict[str, Any] = {"events": len(events), "live_rate": live_rate, "load_average_before": load_average()}
    async with bench_infra() as infra:
        unique = new_unique()
        topics = TopicSettings.model_validate({name: f"bench.{name}.{unique}" for name in TopicSettings.model_fields})
        await produce_feed(infra.kafka_bootstrap, topics, events)
        folder = Path(os.environ.get("BENCH_MEMORY_SNAPSHOTS", "/tmp")) / f"orchard-memory-lag-{unique}"
        runs = {}
        engine = create_engine(infra.database_url, pool_size=1)
        try:
            for label in chosen:
                mode, settings, traced = {**RUNS, **TRACED_LIVE}[label]
                runs[label] = await one_run(infra, engine, topics, events, mode=mode, settings=settings, traced=traced,
                                            folder=folder, live_rate=live_rate)
                summary = {k: v for k, v in runs[label].items() if k != "samples"}
                print(label, orjson.dumps(summary).decode(), flush=True)
                # After every run: the traced ones take minutes, and what was measured is kept if stopped.
                write_result("memory_lag", {**results, "runs": runs, "complete": len(runs) == len(chosen)})
        finally:
            await engine.dispose()



if __name__ == "__main__":
    if os.environ.get(SERVE):
        serve()
    else:
        asyncio.run(main())
