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
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from prometheus_client.parser import text_string_to_metric_families

from bench.common import ProcessMeter, bench_infra, load_average, quick, sized, write_result
from bench.health import feed
from bench.processes import (
    CONSUMERS,
    Lag,
    Pipeline,
    feed_steadily,
    lag_budget,
    post,
    running_pipeline,
    wait_drained,
)


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


async def step(
    pipeline: Pipeline, http: httpx.AsyncClient, lag: Lag, alerts: Alerts, book: Iterator[dict[str, Any]],
    probes: Iterator[str], *, rate: int, seconds: float, probes_per_s: float, lag_budget_s: float,
) -> dict[str, Any]:
    meters = {s: ProcessMeter(p.pid) for s, p in pipeline.processes.items()}
    cpu = {s: m.cpu_seconds() for s, m in meters.items()}
    load_at_start = load_average()
    server_before = await ingest_seconds(http)
    triggered: dict[str, float] = {}
    first_sample = len(lag.samples)
    next_probe = time.monotonic()

    def probe(now: float) -> list[dict[str, Any]]:
        nonlocal next_probe
        if now < next_probe:
            return []
        account = next(probes)
        triggered[account] = time.time()
        next_probe += 1 / probes_per_s
        return [trigger(account)]

    fed = await feed_steadily(http, book, rate=rate, seconds=seconds, extra=probe)
    sent, fed_s, latencies = fed.sent, fed.seconds, fed.post_seconds
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
    lag_budget_s = lag_budget()
    now = datetime.now(UTC).replace(microsecond=0)
    total = int(sum(rates) * seconds * 1.2) + 1000
    book = iter(feed(accounts, total, now=now))
    probe_count = int(probes_per_s * seconds * len(rates)) + 10
    setup = probe_setup("probe", probe_count, now=now)
    load_at_start = load_average()
    steps: list[dict[str, Any]] = []
    async with bench_infra() as infra, running_pipeline(infra.kafka_bootstrap, infra.database_url) as running:
        pipeline, lag, http = running.pipeline, running.lag, running.http
        alerts = Alerts(infra.kafka_bootstrap, pipeline.topics.churn_risk)
        running.watch(alerts.run())
        for start in range(0, len(setup), 500):  # warm-up: the probes' history, unmeasured
            await post(http, setup[start:start + 500])
        if await wait_drained(lag, within_s=300) is None:
            raise RuntimeError("the pipeline did not absorb the warm-up in 300 s")
        probes = iter(f"probe-{n:04d}" for n in range(probe_count))
        for rate in rates:
            steps.append(await step(pipeline, http, lag, alerts, book, probes, rate=rate, seconds=seconds,
                                    probes_per_s=probes_per_s, lag_budget_s=lag_budget_s))
            print(orjson.dumps(steps[-1]).decode(), flush=True)
            running.check()
            if not steps[-1]["sustained"]:
                break
        peak_rss = running.peak_rss_mb()
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
