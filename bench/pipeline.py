"""Whole-pipeline benchmark: the four services as real processes (``python -m services.<name>``, the
production wiring) on topics and schemas of their own, fed over HTTP at steady rates.

For each rate (a step of BENCH_PIPELINE_STEP_S seconds): the events/s ingest accepted, the consumer
lag of health, renewals and expansion sampled every second (end offsets minus the group's committed
offsets), how long they took to drain once the feed stopped, each service's CPU seconds per 1,000
events, and the ingest-to-alert latency: during every step, BENCH_PIPELINE_PROBES_PER_S "probe"
accounts get the event that makes health raise a champion_left alert (their champion left 8 days
earlier, in the warm-up; the alert waits for 7 days of it, so the next event of the account raises
it), and the time from the start of that POST to the alert's arrival on the churn-risk topic is one
sample. The steps go up until one is not sustained. A rate is sustained when ingest accepted at least
90 % of it and no consumer ended the step more than BENCH_PIPELINE_LAG_BUDGET_S seconds of events behind.

    make bench-pipeline          # BENCH_PIPELINE_RATES=250,500,1000,2000,4000 BENCH_PIPELINE_STEP_S=20
    BENCH_PIPELINE_ACCOUNTS=3000 BENCH_PIPELINE_LATENCY_RATE=2000; BENCH_QUICK=1: one short slow step
Writes bench/results/pipeline.json. The schedulers' passes are set an hour apart so that they stay
out of the measurement (their cost is bench.health's rescore figure).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from bench.common import (
    ProcessMeter,
    bench_infra,
    free_port,
    load_average,
    new_unique,
    quick,
    sized,
    start_service,
    write_result,
)
from bench.health import feed
from bench.ingest import topic_env
from shared.db import create_engine
from shared.settings import TopicSettings

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


def probe_setup(prefix: str, count: int, *, now: datetime) -> list[dict[str, Any]]:
    """Probe accounts whose champion left 8 days ago: the next event of one raises champion_left."""
    out: list[dict[str, Any]] = []
    for n in range(count):
        account = f"{prefix}-{n:04d}"

        def event(kind: str, days_ago: float, data: dict[str, Any], account: str = account) -> dict[str, Any]:
            return {"event_id": f"{account}-{len(out)}", "type": kind, "schema_version": 1, "account_id": account,
                    "occurred_at": (now - timedelta(days=days_ago)).isoformat(), "data": data}

        out.append(event("contract.signed", 30, {
            "contract_id": f"{account}-k", "arr": "24000", "seats": 20, "products": ["core"],
            "start_date": (now - timedelta(days=200)).date().isoformat(),
            "end_date": (now + timedelta(days=165)).date().isoformat(), "segment": "mid_market"}))
        out.append(event("contact.changed", 30, {"contact_id": "c0", "role": "champion", "change": "joined"}))
        out.extend(event("usage.recorded", d, {"user_id": "u1", "feature": "reports"}) for d in (25, 18, 12))
        out.append(event("contact.changed", 8, {"contact_id": "c0", "role": "champion", "change": "left"}))
    return out


def trigger(account: str) -> dict[str, Any]:
    return {"event_id": f"{account}-trigger", "type": "usage.recorded", "schema_version": 1, "account_id": account,
            "occurred_at": datetime.now(UTC).isoformat(), "data": {"user_id": "u1", "feature": "reports"}}


class Alerts:
    """Arrival times (wall clock) of champion_left alerts on the churn-risk topic, by account."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.arrived: dict[str, float] = {}
        self._consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                          enable_auto_commit=False)

    async def run(self) -> None:
        await self._consumer.start()
        try:
            while True:
                batch = await self._consumer.getmany(timeout_ms=50)
                now = time.time()
                for records in batch.values():
                    for record in records:
                        alert = orjson.loads(record.value)
                        if alert.get("type") == "churn_risk.raised" and alert.get("kind") == "champion_left":
                            self.arrived.setdefault(alert["account_id"], now)
        finally:
            await self._consumer.stop()


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


async def ingest_seconds(http: httpx.AsyncClient) -> dict[str, float]:
    """Ingest's own sums and counts: time in POST /v1/events, and in waiting for Kafka's acks."""
    out = {"request_s": 0.0, "requests": 0.0, "produce_s": 0.0, "produces": 0.0}
    for family in text_string_to_metric_families((await http.get("/metrics")).text):
        for sample in family.samples:
            if family.name == "orchard_http_request_seconds" and sample.labels.get("method") == "POST":
                key = {"_sum": "request_s", "_count": "requests"}.get(sample.name.removeprefix(family.name))
            elif family.name == "orchard_ingest_produce_seconds" and sample.labels.get("path") == "http":
                key = {"_sum": "produce_s", "_count": "produces"}.get(sample.name.removeprefix(family.name))
            else:
                continue
            if key:
                out[key] += sample.value
    return out


async def wait_drained(lag: Lag, *, within_s: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        if not any((await lag.now()).values()):
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    return None


async def step(
    pipeline: Pipeline, http: httpx.AsyncClient, lag: Lag, alerts: Alerts, book: Iterator[dict[str, Any]],
    probes: Iterator[str], *, rate: int, seconds: float, probes_per_s: float, lag_budget_s: float,
) -> dict[str, Any]:
    meters = {s: ProcessMeter(p.pid) for s, p in pipeline.processes.items()}
    cpu = {s: m.cpu_seconds() for s, m in meters.items()}
    load_at_start = load_average()
    server_before = await ingest_seconds(http)
    batch = max(1, min(500, rate // 10))  # ten requests a second, as many producers would send
    interval = batch / rate
    in_flight: set[asyncio.Task[float]] = set()
    latencies: list[float] = []
    triggered: dict[str, float] = {}
    sent = 0
    first_sample = len(lag.samples)
    started = time.monotonic()
    next_probe = started
    tick = 0
    while (now := time.monotonic()) - started < seconds:
        if now >= next_probe:
            account = next(probes)
            triggered[account] = time.time()
            in_flight.add(asyncio.create_task(post(http, [trigger(account)])))
            next_probe += 1 / probes_per_s
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
    fed_s = time.monotonic() - started
    server = {k: v - server_before[k] for k, v in (await ingest_seconds(http)).items()}
    at_end = await lag.now()
    during = [sample for _, sample in lag.samples[first_sample:]] or [at_end]
    drain_s = await wait_drained(lag, within_s=120)
    for _ in range(150):  # the alerts of the last probes: 30 s at most
        if triggered.keys() <= alerts.arrived.keys():
            break
        await asyncio.sleep(0.2)
    alert_ms = sorted(1000 * (alerts.arrived[a] - t) for a, t in triggered.items() if a in alerts.arrived)
    achieved = sent / fed_s
    sustained = achieved >= 0.9 * rate and all(v <= rate * lag_budget_s for v in at_end.values())
    return {
        "target_per_s": rate,
        "achieved_per_s": round(achieved),
        "seconds": round(fed_s, 1),
        "sustained": sustained,
        "lag_at_end": at_end,
        "lag_max": {s: max(sample[s] for sample in during) for s in CONSUMERS},
        "drain_s": round(drain_s, 1) if drain_s is not None else None,
        "post_p99_ms": round(1000 * _quantile(latencies, 99), 1),
        # Seen by ingest itself: a client-side figure far above these is queueing before the request is read.
        "ingest_request_mean_ms": round(1000 * server["request_s"] / max(server["requests"], 1), 1),
        "ingest_produce_mean_ms": round(1000 * server["produce_s"] / max(server["produces"], 1), 1),
        "alert_latency_ms": {
            "samples": len(alert_ms), "missing": len(triggered) - len(alert_ms),
            **({f"p{q}": round(_quantile(alert_ms, q) / 1, 1) for q in (50, 95, 99)} if alert_ms else {}),
        },
        "cpu_s_per_1000_events": {s: round(1000 * (m.cpu_seconds() - cpu[s]) / max(sent, 1), 3)
                                  for s, m in meters.items()},
        "load_average_at_start": load_at_start,
        "load_average_at_end": load_average(),
    }


def _quantile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def main() -> None:
    default_rates = "200" if quick() else "250,500,1000,2000,4000"
    rates = [int(x) for x in os.environ.get("BENCH_PIPELINE_RATES", default_rates).split(",")]
    seconds = float(os.environ.get("BENCH_PIPELINE_STEP_S") or (6 if quick() else 20))
    accounts = sized("BENCH_PIPELINE_ACCOUNTS", 3_000, 50)
    latency_rate = int(os.environ.get("BENCH_PIPELINE_LATENCY_RATE", "2000"))
    probes_per_s = float(os.environ.get("BENCH_PIPELINE_PROBES_PER_S", "4"))
    lag_budget_s = float(os.environ.get("BENCH_PIPELINE_LAG_BUDGET_S", "5"))
    now = datetime.now(UTC).replace(microsecond=0)
    total = int(sum(rates) * seconds * 1.2) + 1000
    book = iter(feed(accounts, total, now=now))
    probe_count = int(probes_per_s * seconds * len(rates)) + 10
    setup = probe_setup("probe", probe_count, now=now)
    load_at_start = load_average()
    async with bench_infra() as infra:
        pipeline = await start_pipeline(infra.kafka_bootstrap, infra.database_url)
        alerts = Alerts(infra.kafka_bootstrap, pipeline.topics.churn_risk)
        lag = Lag(infra.kafka_bootstrap, {s: pipeline.group(s) for s in CONSUMERS})
        await lag.start()
        tasks = [asyncio.create_task(alerts.run()), asyncio.create_task(lag.run())]
        steps: list[dict[str, Any]] = []
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{pipeline.ports['ingest']}", timeout=60,
                                         # below uvicorn's 5 s keep-alive, so no request meets a closing socket
                                         limits=httpx.Limits(max_connections=40, keepalive_expiry=2)) as http:
                for start in range(0, len(setup), 500):  # warm-up: the probes' history, unmeasured
                    await post(http, setup[start:start + 500])
                if await wait_drained(lag, within_s=300) is None:
                    raise RuntimeError("the pipeline did not absorb the warm-up in 300 s")
                probes = iter(f"probe-{n:04d}" for n in range(probe_count))
                for rate in rates:
                    steps.append(await step(pipeline, http, lag, alerts, book, probes, rate=rate, seconds=seconds,
                                            probes_per_s=probes_per_s, lag_budget_s=lag_budget_s))
                    print(orjson.dumps(steps[-1]).decode(), flush=True)
                    for task in tasks:
                        if task.done():
                            task.result()  # a watcher that failed fails the run, never skews it
                    if not steps[-1]["sustained"]:
                        break
            peak_rss = {s: ProcessMeter(p.pid).peak_rss_mb() for s, p in pipeline.processes.items()}
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await lag.close()
            await stop_pipeline(pipeline, infra.database_url)
    sustained = [s for s in steps if s["sustained"]]
    at_latency_rate = next((s for s in steps if s["target_per_s"] == latency_rate), None)
    write_result("pipeline", {
        "load_average_at_start": load_at_start,
        "accounts": accounts,
        "step_seconds": seconds,
        "max_sustained_per_s": max((s["achieved_per_s"] for s in sustained), default=0),
        # At the rate when the pipeline got there; else at the highest rate it sustained.
        "latency_rate_per_s": latency_rate,
        "alert_latency_ms": at_latency_rate["alert_latency_ms"] if at_latency_rate else None,
        "alert_latency_at_max_sustained_ms": sustained[-1]["alert_latency_ms"] if sustained else None,
        "peak_rss_mb": peak_rss,
        "steps": steps,
        "notes": "Four service processes (ingest, health, renewals, expansion; one instance each, one event loop "
                 "each, default settings) on the same 2-CPU machine as Kafka, Postgres and this feeder. Feed: "
                 "bench.health's book (a month of events interleaved across the accounts in event-time order) "
                 "POSTed in batches of rate/10 (at most 500) ten times a second. Sustained: >= 90 % of the rate "
                 f"accepted and every consumer's lag at the step's end <= {lag_budget_s} s of events. Alert "
                 "latency: start of the POST of the probe's event -> arrival of its champion_left alert at a "
                 "consumer of the churn-risk topic (ingest + health + relay + broker). CPU: each process's "
                 "user+system seconds over the step and its drain, per 1,000 events fed in the step.",
    })


if __name__ == "__main__":
    asyncio.run(main())
