"""Load held: the four services as processes (bench.processes, as in bench.pipeline) fed over HTTP at
one steady rate for a long time, to show that memory stays flat and the consumers keep up.

Every BENCH_SOAK_SAMPLE_S seconds: each service's resident memory (VmRSS of the process and its
children) and each consumer group's lag (records behind, and seconds of events at the feed's rate);
the lag is also watched every second for its maximum. After the feed: how long the groups take to
drain. Verdicts, after a warm-up of BENCH_SOAK_WARMUP_S seconds (caches, pools, the first batches):

- memory flat: for every service, the median RSS of the last window (BENCH_SOAK_WINDOW_S) is at most
  10 % and at most 30 MiB above the median of the first window after the warm-up;
- lag bounded: no group more than BENCH_PIPELINE_LAG_BUDGET_S seconds of events behind after the
  warm-up, and every group drained within 60 s of the feed's end.

    make bench-soak        # BENCH_SOAK_RATE=250 BENCH_SOAK_S=600 BENCH_SOAK_ACCOUNTS=3000
    BENCH_QUICK=1 ...      # 45 s with a 10 s warm-up and 15 s windows: only shows that it runs
Writes bench/results/soak.json (every sample and the verdicts).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import ProcessMeter, bench_infra, load_average, quick, sized, write_result
from bench.health import feed
from bench.processes import (
    CONSUMERS,
    Lag,
    Pipeline,
    feed_steadily,
    lag_budget,
    running_pipeline,
    wait_drained,
)

GROWTH_SHARE = 0.10
GROWTH_MIB = 30.0
DRAIN_BUDGET_S = 60.0


def _seconds(name: str, full: float, small: float) -> float:
    return float(os.environ.get(name) or (small if quick() else full))


async def sample_every(
    pipeline: Pipeline, lag: Lag, samples: list[dict[str, Any]], *, started: float, interval: float, rate: int
) -> None:
    """Appends a sample to `samples` every `interval` seconds until cancelled; the lag is the 1 s
    watcher's latest (it asks the broker; this only reads /proc)."""
    meters = {s: ProcessMeter(p.pid) for s, p in pipeline.processes.items()}
    while True:
        lag_now = lag.samples[-1][1] if lag.samples else {}
        samples.append({
            "t_s": round(time.monotonic() - started, 1),
            "rss_mib": {s: m.rss_mib() for s, m in meters.items()},
            "lag_records": lag_now,
            "lag_s": {s: round(v / rate, 2) for s, v in lag_now.items()},
            "load_average": load_average(),
        })
        await asyncio.sleep(interval)


def memory_verdict(samples: list[dict[str, Any]], *, first: tuple[float, float], last: tuple[float, float]
                   ) -> dict[str, Any]:
    """Per service: median RSS in the `first` window (after the warm-up) and the `last`, and the growth."""
    def median(service: str, window: tuple[float, float]) -> float:
        values: list[float] = [s["rss_mib"][service] for s in samples if window[0] <= s["t_s"] <= window[1]]
        if not values:
            raise RuntimeError(f"no memory sample in {window}: the run was shorter than its windows")
        return statistics.median(values)

    per_service = {}
    for service in samples[0]["rss_mib"]:
        start, end = median(service, first), median(service, last)
        growth = end - start
        per_service[service] = {
            "first_mib": round(start, 1), "last_mib": round(end, 1), "growth_mib": round(growth, 1),
            "growth_pct": round(100 * growth / start, 1),
            "flat": growth <= GROWTH_SHARE * start and growth <= GROWTH_MIB,
        }
    return {"flat": all(s["flat"] for s in per_service.values()), "per_service": per_service}


def lag_verdict(lag: Lag, *, since: float, feed_end: float, rate: int, budget_s: float, drain_s: float | None
                ) -> dict[str, Any]:
    """From the 1 s lag samples between the end of the warm-up (`since`) and the end of the feed."""
    during = [sample for at, sample in lag.samples if since <= at <= feed_end]
    max_records = {g: max((s.get(g, 0) for s in during), default=0) for g in CONSUMERS}
    final = during[-1] if during else {}
    max_s = {g: round(v / rate, 2) for g, v in max_records.items()}
    return {
        "bounded": all(v <= budget_s for v in max_s.values()) and drain_s is not None and drain_s <= DRAIN_BUDGET_S,
        "budget_s": budget_s,
        "max_records": max_records,
        "max_s": max_s,
        "final_records": {g: final.get(g, 0) for g in CONSUMERS},
        "final_s": {g: round(final.get(g, 0) / rate, 2) for g in CONSUMERS},
        "drain_s": drain_s,
        "drain_budget_s": DRAIN_BUDGET_S,
        "samples": len(during),
    }


async def main() -> None:
    rate = int(os.environ.get("BENCH_SOAK_RATE", "250"))
    seconds = _seconds("BENCH_SOAK_S", 600, 45)
    warmup_s = _seconds("BENCH_SOAK_WARMUP_S", 60, 10)
    window_s = _seconds("BENCH_SOAK_WINDOW_S", 60, 15)
    interval_s = _seconds("BENCH_SOAK_SAMPLE_S", 10, 5)
    accounts = sized("BENCH_SOAK_ACCOUNTS", 3_000, 50)
    if seconds < warmup_s + 2 * window_s:
        raise SystemExit(f"BENCH_SOAK_S={seconds} is shorter than the warm-up and two windows")
    budget_s = lag_budget()
    book = iter(feed(accounts, int(rate * seconds * 1.1) + 1000, now=datetime.now(UTC).replace(microsecond=0)))
    load_at_start = load_average()
    samples: list[dict[str, Any]] = []
    async with bench_infra() as infra, running_pipeline(infra.kafka_bootstrap, infra.database_url) as running:
        lag = running.lag
        started = time.monotonic()
        running.watch(sample_every(running.pipeline, lag, samples, started=started, interval=interval_s, rate=rate))
        fed = await feed_steadily(running.http, book, rate=rate, seconds=seconds)
        feed_end = time.monotonic()
        drain_s = await wait_drained(lag, within_s=max(300.0, 2 * DRAIN_BUDGET_S))
        running.check()
        peak_rss = running.peak_rss_mb()
    fed_s = feed_end - started
    memory = memory_verdict(samples, first=(warmup_s, warmup_s + window_s), last=(fed_s - window_s, fed_s))
    lag_figures = lag_verdict(lag, since=started + warmup_s, feed_end=feed_end, rate=rate, budget_s=budget_s,
                              drain_s=round(drain_s, 1) if drain_s is not None else None)
    post_ms = sorted(1000 * s for s in fed.post_seconds)
    write_result("soak", {
        "load_average_at_start": load_at_start,
        "rate_per_s": rate,
        "achieved_per_s": round(fed.sent / fed.seconds),
        "events": fed.sent,
        "seconds": round(fed.seconds, 1),
        "accounts": accounts,
        "warmup_s": warmup_s,
        "window_s": window_s,
        "sample_s": interval_s,
        "held": memory["flat"] and lag_figures["bounded"],
        "memory": memory,
        "lag": lag_figures,
        "post_p99_ms": round(post_ms[int(0.99 * (len(post_ms) - 1))], 1) if post_ms else None,
        "peak_rss_mib": peak_rss,
        "samples": samples,
        "notes": "Four service processes (one instance each, default settings, the schedulers' passes an hour "
                 "apart) on the same 2-CPU machine as Kafka, Postgres and this feeder, fed bench.health's book "
                 "(a month of events interleaved across the accounts in event-time order) in ten POSTs a second. "
                 f"Memory flat: median RSS of the last {window_s:.0f} s at most {GROWTH_SHARE:.0%} and "
                 f"{GROWTH_MIB:.0f} MiB above that of the first {window_s:.0f} s after a {warmup_s:.0f} s warm-up, "
                 f"every service. Lag bounded: every group at most {budget_s} s of events behind (records / rate) "
                 f"after the warm-up, and drained within {DRAIN_BUDGET_S:.0f} s of the feed's end.",
    })


if __name__ == "__main__":
    asyncio.run(main())
