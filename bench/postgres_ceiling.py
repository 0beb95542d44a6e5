"""Postgres ceiling: the rows the consumer runner's trivial handler writes, written by raw asyncpg.

Per batch of 1,000 events, one transaction with the same two statements the plumbing bench's runner
sends (`bench.plumbing`): the processed ids inserted with `unnest` (ON CONFLICT DO NOTHING RETURNING,
the runner's de-duplication) and one set-based upsert of the per-account counts. No Kafka, no
SQLAlchemy, no parsing: what Postgres on this machine allows one connection, and with several
connections in parallel, so the runner's figure can be read against it.

    make bench-postgres            # BENCH_PG_EVENTS=200000 by default; three rounds each, the median kept
Writes bench/results/postgres_ceiling.json.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import asyncpg

from bench.common import Stopwatch, bench_infra, load_average, new_unique, own_cpu_seconds, sized, write_result

BATCH = 1_000
ACCOUNTS = 1_000
ROUNDS = 3


def plain_dsn(database_url: str) -> str:
    """asyncpg speaks `postgresql://`; the services' URL names SQLAlchemy's driver."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _create(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.execute(f'CREATE TABLE "{schema}".processed_events (event_id text primary key, '
                       "processed_at timestamptz not null default now())")
    await conn.execute(f'CREATE TABLE "{schema}".account_counts (account_id text primary key, events bigint not null)')


async def _write_batches(dsn: str, schema: str, batches: Sequence[list[str]]) -> int:
    """Each batch in its own transaction, on one connection; returns the events recorded as new."""
    conn = await asyncpg.connect(dsn)
    try:
        record = await conn.prepare(
            f'INSERT INTO "{schema}".processed_events (event_id) SELECT unnest($1::text[]) '
            "ON CONFLICT DO NOTHING RETURNING event_id")
        upsert = await conn.prepare(
            f'INSERT INTO "{schema}".account_counts (account_id, events) '
            "SELECT * FROM unnest($1::text[], $2::bigint[]) "
            "ON CONFLICT (account_id) DO UPDATE SET events = account_counts.events + excluded.events")
        new = 0
        for ids in batches:
            async with conn.transaction():
                fresh = await record.fetch(ids)
                per_account = Counter(event_id.rsplit("-", 1)[1] for event_id in ids)
                await upsert.fetch(list(per_account), list(per_account.values()))
                new += len(fresh)
        return new
    finally:
        await conn.close()


async def write_rate(dsn: str, n: int, *, connections: int) -> dict[str, float]:
    """Events/s through the two statements, `n` events split over `connections` writers as instances of
    one consumer group split partitions: each writer its own accounts (keyed by account, as topics are)."""
    schema = f"bench_pg_{new_unique()}"
    admin = await asyncpg.connect(dsn)
    try:
        await _create(admin, schema)
        owned: list[list[str]] = [[] for _ in range(connections)]
        for i in range(n):
            owned[i % ACCOUNTS % connections].append(f"{schema}-{i}-{i % ACCOUNTS}")
        shares = [[ids[i:i + BATCH] for i in range(0, len(ids), BATCH)] for ids in owned]
        cpu = own_cpu_seconds()
        with Stopwatch() as watch:
            recorded = await asyncio.gather(*(_write_batches(dsn, schema, share) for share in shares))
        cpu = own_cpu_seconds() - cpu
        if sum(recorded) != n:
            raise RuntimeError(f"{sum(recorded)} of {n} events recorded as new: the ceiling did not do the work")
        return {"events_per_s": n / watch.seconds, "client_cpu_s_per_1000_events": 1000 * cpu / n}
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


def _median(rounds: list[dict[str, float]]) -> dict[str, float]:
    return sorted(rounds, key=lambda r: r["events_per_s"])[len(rounds) // 2]


async def main() -> None:
    n = sized("BENCH_PG_EVENTS", 200_000, 5_000)
    load_at_start = load_average()
    async with bench_infra() as infra:
        dsn = plain_dsn(infra.database_url)
        # Three rounds, the median kept: a single round can meet a checkpoint or autovacuum.
        ones = [await write_rate(dsn, n, connections=1) for _ in range(ROUNDS)]
        fours = [await write_rate(dsn, n, connections=4) for _ in range(ROUNDS)]
    one, four = _median(ones), _median(fours)
    write_result("postgres_ceiling", {
        "events": n,
        "batch": BATCH,
        "load_average_at_start": load_at_start,
        "rounds": ROUNDS,
        "one_connection_rounds_per_s": [round(r["events_per_s"]) for r in ones],
        "four_connections_rounds_per_s": [round(r["events_per_s"]) for r in fours],
        "one_connection_per_s": round(one["events_per_s"]),
        "four_connections_per_s": round(four["events_per_s"]),
        "client_cpu_s_per_1000_events": round(one["client_cpu_s_per_1000_events"], 4),
        "notes": "raw asyncpg, prepared statements, one transaction per batch of 1,000: processed ids by unnest "
                 "(ON CONFLICT DO NOTHING RETURNING) and one unnest upsert of per-account counts; the rows the "
                 "plumbing bench's trivial handler writes, without Kafka, parsing or SQLAlchemy.",
    })


if __name__ == "__main__":
    asyncio.run(main())
