"""Health benchmark: events/s applied with scores updated, the time to rescore every account through
the scheduler's path, the Postgres storage per account and per million events, at several book sizes,
and the plumbing ceiling measured in the same run.

    make bench-health        # 1,000 and 10,000 accounts, 10 events each; a clustered run of 100,000 events
    BENCH_HEALTH_SCALES=1000,10000,100000 make bench-health     # adds 100,000 accounts (about 20 minutes)
    BENCH_HEALTH_EVENTS_PER_ACCOUNT, BENCH_HEALTH_CLUSTERED_ACCOUNTS, BENCH_HEALTH_CLUSTERED_EVENTS to change;
    BENCH_QUICK=1: 200 accounts only
Writes bench/results/health.json.

Two workloads over the same kind of book (per account a contract, two contacts, usage by a handful
of users, a call and a survey answer, over the month before now):
- worst case: the events interleaved across accounts in event-time order as a live feed of a large
  book would be (a batch of 1,000 events touches up to 1,000 accounts), 10 events per account;
- clustered: 1,000 accounts with 100 events each, each account's events of a day arriving together
  (a batch of 1,000 events touches about 300 accounts), as telemetry collected per account arrives.
The health runner consumes them from the three canonical topics in-process with the service's
production wiring. CPU is this process's (the runner and its relay; the feed is produced before).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa

from bench.common import (
    Stopwatch,
    bench_infra,
    load_average,
    new_unique,
    own_cpu_seconds,
    own_peak_rss_mb,
    quick,
    sized,
    write_result,
)
from bench.plumbing import raw_consume, runner_consume
from services.health.domain import DEFAULT_SCORECARDS, NO_NORMS, SignalEvent, StoredAccount, advance
from services.health.service import build_service
from services.health.settings import HealthSettings
from shared.db import create_engine
from shared.events import topic_kind
from shared.settings import TopicSettings
from shared.signal_events import signal_event
from tests.kafka_utils import create_topic, envelope, produce

SEGMENTS = ("enterprise", "mid_market", "smb")


def feed(
    accounts: int, events: int, *, now: datetime, seed: int = 11, prefix: str = "acct", clustered: bool = False
) -> list[dict[str, Any]]:
    """`events` contract envelopes over `accounts` accounts and the 30 days before `now`, in event-time
    order (`clustered`: by day, then by account)."""
    rng = random.Random(seed)
    per_account = max(6, events // accounts)
    out: list[dict[str, Any]] = []
    for n in range(accounts):
        account = f"{prefix}-{n:05d}"
        start = now - timedelta(days=30)

        def event(kind: str, at: datetime, data: dict[str, Any], account: str = account) -> dict[str, Any]:
            return {"event_id": f"{account}-{len(out)}", "type": kind, "schema_version": 1, "account_id": account,
                    "occurred_at": at.isoformat(), "data": data}

        seats = rng.randint(5, 60)
        out.append(event("contract.signed", start, {
            "contract_id": f"{account}-k", "arr": str(seats * 900), "seats": seats, "products": ["core"],
            "start_date": (start - timedelta(days=200)).date().isoformat(),
            "end_date": (start + timedelta(days=rng.randint(40, 300))).date().isoformat(),
            "segment": SEGMENTS[n % 3]}))
        out.append(event("contact.changed", start, {"contact_id": "c0", "role": "champion", "change": "joined"}))
        out.append(event("contact.changed", start, {"contact_id": "c1", "role": "exec_sponsor", "change": "joined"}))
        out.append(event("interaction.logged", start + timedelta(days=rng.uniform(0, 30)), {
            "channel": "call", "direction": "inbound", "contact_id": "c0", "sentiment": rng.uniform(-1, 1)}))
        out.append(event("survey.answered", start + timedelta(days=rng.uniform(0, 30)), {
            "kind": "nps", "score": rng.randint(0, 10)}))
        for _ in range(per_account - 5):
            out.append(event("usage.recorded", start + timedelta(days=rng.uniform(0, 30)), {
                "user_id": f"u{rng.randint(0, seats)}", "feature": rng.choice(("reports", "alerts", "api"))}))
    if clustered:
        out.sort(key=lambda e: (e["occurred_at"][:10], e["account_id"], e["occurred_at"]))
    else:
        out.sort(key=lambda e: e["occurred_at"])
    return out[:events]


async def produce_feed(bootstrap: str, topics: TopicSettings, events: list[dict[str, Any]]) -> None:
    by_topic: dict[str, list[tuple[str, bytes]]] = {}
    for e in events:
        by_topic.setdefault(topics.canonical(topic_kind(e["type"])), []).append((e["account_id"], orjson.dumps(e)))
    for topic in by_topic:
        await create_topic(bootstrap, topic, partitions=6)
    await asyncio.gather(*(produce(bootstrap, topic, records) for topic, records in by_topic.items()))


async def _count(engine: Any, sql: str) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.text(sql)) or 0)


async def _drained(engine: Any, schema: str) -> None:
    """Until the relay has published everything in the outbox."""
    while True:
        if not await _count(engine, f'SELECT count(*) FROM "{schema}".outbox'):
            return
        await asyncio.sleep(0.1)


def domain_only(events: list[dict[str, Any]]) -> dict[str, float]:
    """Health's ceiling without I/O: the pure domain (`advance`) over the same feed, in batches of 1,000
    grouped by account as the handler does, the state kept in memory."""
    signal_events = [signal_event(event_id=e["event_id"], event_type=e["type"],
                                  occurred_at=datetime.fromisoformat(e["occurred_at"]), data=e["data"])
                     for e in events]
    state: dict[str, StoredAccount] = {}
    points = 0
    cpu = own_cpu_seconds()
    with Stopwatch() as watch:
        for start in range(0, len(events), 1000):
            grouped: dict[str, list[SignalEvent]] = {}
            for e, signal in zip(events[start:start + 1000], signal_events[start:start + 1000], strict=True):
                grouped.setdefault(e["account_id"], []).append(signal)
            for account_id, batch in grouped.items():
                moved = advance(state.get(account_id) or StoredAccount(account_id), batch,
                                scorecards=DEFAULT_SCORECARDS, norms=NO_NORMS)
                points += len(moved.evaluations)
                state[account_id] = moved.account
    cpu = own_cpu_seconds() - cpu
    return {"per_s": len(events) / watch.seconds, "cpu_s_per_1000_events": 1000 * cpu / len(events),
            "points_per_event": points / len(events)}


async def storage(engine: Any, schema: str) -> dict[str, dict[str, int]]:
    """Each table of the schema: its rows and its bytes on disk, indexes and TOAST included."""
    async with engine.connect() as conn:
        tables = (await conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = :schema ORDER BY tablename"), {"schema": schema},
        )).scalars().all()
        out = {}
        for table in tables:
            qualified = f'"{schema}"."{table}"'
            out[table] = {
                "rows": int(await conn.scalar(sa.text(f"SELECT count(*) FROM {qualified}")) or 0),
                "bytes": int(await conn.scalar(sa.text("SELECT pg_total_relation_size(:t)"), {"t": qualified}) or 0),
            }
    return out


async def run_health(
    bootstrap: str, dsn: str, events: list[dict[str, Any]], *, now: datetime, rescore: bool = True
) -> dict[str, Any]:
    unique = new_unique()
    schema = f"bench_health_{unique}"
    topics = TopicSettings.model_validate({name: f"bench.{name}.{unique}" for name in TopicSettings.model_fields})
    await produce_feed(bootstrap, topics, events)
    settings = HealthSettings(service_name=f"bench-health-{unique}", kafka_bootstrap=bootstrap, database_url=dsn,
                              health_schema=schema, topics=topics,
                              # No HTTP call is made: a key whose secret nobody holds.
                              api_keys={"bench": {"sha256": "0" * 64, "scopes": ["read"]}})
    service = build_service(settings)
    await service.runtime.start()
    engine = create_engine(dsn, pool_size=1)
    relay = asyncio.create_task(service.runtime.relay.run())
    started, cpu = time.perf_counter(), own_cpu_seconds()
    consume = asyncio.create_task(service.runner.run())
    figures: dict[str, Any] = {}
    try:
        while await _count(engine, f'SELECT count(*) FROM "{schema}".processed_events') < len(events):
            if consume.done():
                consume.result()
            await asyncio.sleep(0.1)
        applied_s = time.perf_counter() - started
        await _drained(engine, schema)
        published_s = time.perf_counter() - started
        cpu = own_cpu_seconds() - cpu
        accounts = await _count(engine, f'SELECT count(*) FROM "{schema}".accounts WHERE score IS NOT NULL')
        tables = await storage(engine, schema)
        total_bytes = sum(t["bytes"] for t in tables.values())
        figures.update(
            accounts_scored=accounts,
            cpu_s_per_1000_events=round(1000 * cpu / len(events), 3),
            storage={
                "total_bytes": total_bytes,
                "bytes_per_account": round(total_bytes / max(accounts, 1)),
                "bytes_per_million_events": round(total_bytes / len(events) * 1_000_000),
                "tables": tables,
            },
            applied_per_s=round(len(events) / applied_s),
            applied_and_published_per_s=round(len(events) / published_s),
            history_rows=await _count(engine, f'SELECT count(*) FROM "{schema}".score_history'),
            alerts=await _count(engine, f'SELECT count(*) FROM "{schema}".alerts'),
        )
        service.runner.stop()
        await consume
        if rescore:
            figures.update(await _rescore_all(service, engine, schema, now=now))
    finally:
        service.runner.stop()
        await asyncio.gather(consume, return_exceptions=True)
        service.runtime.relay.stop()
        await relay
        await service.runtime.close()
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()
    figures["peak_rss_mb"] = own_peak_rss_mb()
    return figures


async def _rescore_all(service: Any, engine: Any, schema: str, *, now: datetime) -> dict[str, Any]:
    with Stopwatch() as rescore:  # every account is a day past the interval: all are due
        report = await service.rescorer.rescore_due(as_of=now + timedelta(days=1))
    assert report is not None
    await _drained(engine, schema)
    return {
        "rescore_accounts": report.accounts,
        "rescore_seconds": round(rescore.seconds, 2),
        "rescore_accounts_per_s": round(report.accounts / rescore.seconds),
        "rescore_changed": report.changed,
        "rescore_alert_decisions": report.alerts,
        "rescore_chunks": report.chunks,
    }


async def plumbing_ceiling(bootstrap: str, dsn: str, n: int) -> dict[str, float]:
    """bench.plumbing's figures on a topic of `n` events, in this run, on this machine."""
    unique = new_unique()
    topic, out_topic = f"bench.in.{unique}", f"bench.out.{unique}"
    await create_topic(bootstrap, topic, partitions=6)
    await create_topic(bootstrap, out_topic, partitions=6)
    await produce(bootstrap, topic, (
        (f"acct-{i % 10_000}", envelope(event_id=f"{unique}-{i}", account_id=f"acct-{i % 10_000}"))
        for i in range(n)
    ))
    raw = await raw_consume(bootstrap, topic, n)
    trivial = await runner_consume(bootstrap, dsn, topic, n, out_topic, emit=False)
    emitting = await runner_consume(bootstrap, dsn, topic, n, out_topic)
    return {"raw": raw, "trivial": trivial["applied_per_s"], "outbox": emitting["applied_per_s"]}


async def main() -> None:
    per_account = sized("BENCH_HEALTH_EVENTS_PER_ACCOUNT", 10, 10)
    scales = [int(x) for x in os.environ.get("BENCH_HEALTH_SCALES", "200" if quick() else "1000,10000").split(",")]
    clustered_accounts = sized("BENCH_HEALTH_CLUSTERED_ACCOUNTS", 1_000, 20)
    clustered_n = sized("BENCH_HEALTH_CLUSTERED_EVENTS", 100_000, 2_000)
    now = datetime.now(UTC).replace(microsecond=0)
    load_at_start = load_average()
    by_scale: dict[str, Any] = {}
    async with bench_infra() as infra:
        for accounts in scales:
            events = feed(accounts, accounts * per_account, now=now)
            figures = await run_health(infra.kafka_bootstrap, infra.database_url, events, now=now)
            by_scale[str(accounts)] = {"events": len(events), "load_average": load_average(), **figures}
            del events
        events = feed(clustered_accounts, clustered_n, now=now, clustered=True)
        clustered = await run_health(infra.kafka_bootstrap, infra.database_url, events, now=now, rescore=False)
        clustered.update(events=len(events), accounts=clustered_accounts, load_average=load_average())
        largest = by_scale[str(max(scales))]
        domain = domain_only(feed(max(scales), largest["events"], now=now))
        ceiling = await plumbing_ceiling(infra.kafka_bootstrap, infra.database_url, largest["events"])
    write_result("health", {
        "load_average_at_start": load_at_start,
        # The headline figures: the largest book, interleaved (the worst case).
        "events": largest["events"],
        "accounts": max(scales),
        **{k: v for k, v in largest.items() if k not in ("storage", "events")},
        "worst_case_by_accounts": by_scale,
        "clustered": clustered,
        "domain_only_per_s": round(domain["per_s"]),
        "domain_only_cpu_s_per_1000_events": round(domain["cpu_s_per_1000_events"], 3),
        "evaluation_points_per_event": round(domain["points_per_event"], 2),
        "plumbing_raw_aiokafka_per_s": round(ceiling["raw"]),
        "plumbing_runner_trivial_handler_per_s": round(ceiling["trivial"]),
        "plumbing_runner_with_outbox_per_s": round(ceiling["outbox"]),
        "ratio_to_plumbing_trivial": round(largest["applied_per_s"] / ceiling["trivial"], 3),
        "ratio_to_plumbing_with_outbox": round(largest["applied_per_s"] / ceiling["outbox"], 3),
        "notes": "health: canonical topics (6 partitions each) -> one runner in-process -> per batch one lock, one "
                 "load, fold + score + explain + alerts per touched account, one upsert/insert per table, outbox "
                 "(health.changed on every score change, churn-risk decisions); relay publishing concurrently. "
                 "worst case: events interleaved across the book in event-time order; clustered: each account's "
                 "events of a day together. rescore: the scheduler's pass over every account at now+1 day, in "
                 "chunks of health_rescore_chunk accounts per transaction. storage: pg_total_relation_size of "
                 "every table of the service's schema after the run (processed_events is pruned after 37 days in "
                 "production, score_history keeps one point per account per evaluation that changed the score). "
                 "cpu: this process's user+system seconds while the runner applied and the relay published; "
                 "peak_rss_mb: this process's high-water mark so far (it holds the feed too). "
                 "plumbing: bench.plumbing's runner on a topic of as many events over 10,000 keys, same run. "
                 "domain_only: services.health.domain.advance over the largest worst-case feed, no I/O (the "
                 "norms empty, the default scorecards): the most the handler could do per core.",
    })


if __name__ == "__main__":
    asyncio.run(main())
