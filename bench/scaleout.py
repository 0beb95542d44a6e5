"""Scale out, measured: health as 1, 2 and 3 processes in one consumer group over the same backlog, and
the daily rescore pass as 1, 2 and 3 concurrent passes over the same book (issue 10).

    make bench-scaleout                   # 30,000 worst-case events over 3,000 accounts; 1, 2, 3 instances
    BENCH_SCALEOUT_EVENTS, BENCH_SCALEOUT_ACCOUNTS, BENCH_SCALEOUT_INSTANCES=1,2,3 to change;
    BENCH_QUICK=1: 3,000 events over 300 accounts
Writes bench/results/scaleout.json (and .jsonl).

The book is bench.health's worst case (every account's events interleaved in event time, so a batch of
1,000 touches up to 1,000 accounts), put once on canonical topics of 6 partitions. Each run starts N
``python -m services.health`` processes (the production wiring) with one consumer group and a schema of
its own, and times the drain: from the moment every instance answers /readyz, events applied per second
(and between 10 % and 90 % of the book, which leaves out start-up and the last partition's tail), until
every event is applied. Each instance's scheduled pass runs once its own groups are read to the end (it
brings their accounts to the stream's last midnight); once the outbox is empty the instances stop and one
pass settles what theirs left, so every run ends in the same state. CPU seconds per process come from /proc, and
beside them PostgreSQL's and Kafka's processes (machine-wide: other users' work shows there too) and the
machine's busy share, so the table says where the bottleneck is as instances are added.

Each event applied once: every run's `processed_events` holds each of the book's ids (the table also holds
the churn-risk records health's alert inbox reads back, which are not counted), and no output event id
(health.changed, churn-risk) was published twice. The same end state: every run's final state (each
account's score, grade and point; the score history; the alerts) has the same digest, and the outputs
(published plus those the settling pass left) the same count: health's results depend on the events,
not on how many processes shared them or when each one's pass ran.

The rescore: each run's book has its stream moved one day on, and 1, 2 or 3 pass processes (run 1's
book with one, run 2's with two, ...) bring every account over that midnight at once (the daily pass;
norms refreshed before the clock starts, once), each group under its own lock (`shared.passes`):
accounts per second, and the digests equal again.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
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
from services.health.pipeline import Pipeline
from services.health.scheduler import Rescorer
from services.health.store import health_tables
from shared.db import create_engine, make_sessionmaker
from shared.passes import PassWiring
from shared.settings import TopicSettings
from tests.faults.observe import drop_schemas, outbox_backlog, topic_values
from tests.infra import REPO, free_port

PASS = "BENCH_SCALEOUT_PASS"
"""Set in a rescore pass process's environment (the schema): run one pass when told to, print its report."""
KEY = "bench-scaleout-key"
GRACE_S = 900.0
PUBLISHED = ("account_health", "churn_risk")
CHUNK = 500
BOOK = "acct"
"""The book's account prefix, so its event ids too (bench.health's `feed`): `processed_events` also holds the ids
of the churn-risk records health's alert inbox reads back (`services.health.inbox`), which are not the book's."""


def _instances() -> list[int]:
    return [int(n) for n in os.environ.get("BENCH_SCALEOUT_INSTANCES", "1,2,3").split(",")]


def _ticks(pids: list[int]) -> float:
    clock = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / clock


def _pids(*, comm: str | None = None, cmdline: str | None = None) -> list[int]:
    out = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (comm and (proc / "comm").read_text().strip() == comm) or \
                    (cmdline and cmdline.encode() in (proc / "cmdline").read_bytes()):
                out.append(int(proc.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return out


def _machine() -> tuple[float, float]:
    """Busy and total jiffies of every core since boot (/proc/stat's first line)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class Meters:
    """CPU seconds of the instances, of PostgreSQL's and Kafka's processes, and the machine's busy share,
    from one moment (`start`) to another (`stop`)."""

    instances: list[ProcessMeter]

    def start(self) -> None:
        self._postgres, self._kafka = _pids(comm="postgres"), _pids(cmdline="kafka.Kafka")
        self._at = [m.cpu_seconds() for m in self.instances], _ticks(self._postgres), _ticks(self._kafka), _machine()

    def stop(self, seconds: float) -> dict[str, Any]:
        instances, postgres, kafka, (busy, total) = self._at
        busy_now, total_now = _machine()
        # Backends that started in the window count whole; those that ended in it are lost (approximate).
        postgres_now = _ticks(self._postgres) + _ticks([p for p in _pids(comm="postgres") if p not in self._postgres])
        return {
            "instances_cpu_s": [round(m.cpu_seconds() - c, 2) for m, c in zip(self.instances, instances, strict=True)],
            "instances_busy": [round((m.cpu_seconds() - c) / seconds, 2)
                               for m, c in zip(self.instances, instances, strict=True)],
            "postgres_cpu_s": round(postgres_now - postgres, 2),
            "postgres_busy": round((postgres_now - postgres) / seconds, 2),
            "kafka_cpu_s": round(_ticks(self._kafka) - kafka, 2),
            "machine_busy_share": round((busy_now - busy) / max(total_now - total, 1), 3),
            "cpus": os.cpu_count(),
        }


async def _count(engine: AsyncEngine, sql: str) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.text(sql)) or 0)


async def book_applied(engine: AsyncEngine, schema: str) -> int:
    """How many of the book's events health has applied. Not every id in `processed_events`: health's alert
    inbox records there the churn-risk records it reads back (`services.health.inbox`); counted with them, the
    drain "ended" thousands of events early and the instances were stopped with a partition's tail unread."""
    return await _count(engine, f'SELECT count(*) FROM "{schema}".processed_events WHERE event_id LIKE \'{BOOK}-%\'')


async def digest(engine: AsyncEngine, schema: str) -> dict[str, Any]:
    """What each event's application left: equal across runs when every event was applied once."""
    async with engine.connect() as conn:
        parts = {}
        for name, sql in (("accounts", "SELECT account_id, score, grade, as_of FROM {s}.accounts ORDER BY 1"),
                          ("score_history", "SELECT account_id, as_of, score, cause FROM {s}.score_history "
                                            "ORDER BY 1, 2, 4, 3"),
                          ("alerts", "SELECT alert_id, status FROM {s}.alerts ORDER BY 1")):
            rows = (await conn.execute(sa.text(sql.replace("{s}", f'"{schema}"')))).all()
            parts[name] = {"rows": len(rows), "sha256": hashlib.sha256(repr(rows).encode()).hexdigest()[:16]}
    return parts


async def drain(infra: Any, engine: AsyncEngine, canonical: TopicSettings, events: int, n: int) -> dict[str, Any]:
    unique = new_unique()
    schema, name = f"bench_scaleout_{unique}", f"health-scaleout-{unique}"
    topics = canonical.model_copy(update={k: f"bench.{k}.{unique}" for k in ("raw", "dlq", "account_health",
                                                                             "churn_risk", "upsell")})
    ports = [free_port(18301 + 10 * n + i) for i in range(n)]
    common = {"ORCHARD_KAFKA_BOOTSTRAP": infra.kafka_bootstrap, "ORCHARD_DATABASE_URL": infra.database_url,
              "ORCHARD_API_KEYS": orjson.dumps({KEY: ["read"]}).decode(), "ORCHARD_LOG_LEVEL": "WARNING",
              "ORCHARD_SERVICE_NAME": name, "ORCHARD_HEALTH_SCHEMA": schema, **topic_env(topics),
              "ORCHARD_HEALTH_RESCORE_INTERVAL_S": "3600", "ORCHARD_HEALTH_MIDNIGHT_GRACE_S": str(GRACE_S)}
    launched = time.monotonic()
    processes = await asyncio.gather(*(start_service("services.health", {**common, "ORCHARD_HEALTH_PORT": str(p)},
                                                     port=p) for p in ports))
    meters = Meters([ProcessMeter(p.pid) for p in processes])
    ready = time.monotonic()
    meters.start()
    at_ready = await book_applied(engine, schema)
    marks: dict[float, float] = {}
    try:
        while (applied := await book_applied(engine, schema)) < events:
            now = time.monotonic()
            for share in (0.1, 0.9):
                if applied >= share * events:
                    marks.setdefault(share, now)
            if any(p.returncode is not None for p in processes):
                raise RuntimeError("a health instance stopped")
            await asyncio.sleep(0.2)
        applied_at = time.monotonic()
        marks.setdefault(0.9, applied_at)
        window = meters.stop(applied_at - ready)
        while True:
            if not await outbox_backlog(engine, [schema]):
                break
            await asyncio.sleep(0.5)
        settled_at = time.monotonic()
    finally:
        for process in processes:
            process.terminate()  # graceful: the batch in flight and the outbox finished first
        await asyncio.gather(*(p.wait() for p in processes))
    applied_in_all = await book_applied(engine, schema)
    outputs = await settle(infra, engine, schema, topics)
    ten_to_ninety = marks.get(0.9, applied_at) - marks.get(0.1, ready)
    return {
        "instances": n, "schema": schema, "start_up_s": round(ready - launched, 1),
        "book_events_applied": applied_in_all, "applied_before_all_ready": at_ready,
        "drain_s": round(applied_at - ready, 1),
        "events_per_s": round((events - at_ready) / (applied_at - ready)),
        "events_per_s_10_to_90": round(0.8 * events / ten_to_ninety) if ten_to_ninety > 0 else None,
        "cpu_s_per_1000_events": round(1000 * sum(window["instances_cpu_s"]) / max(events - at_ready, 1), 3),
        "settled_s": round(settled_at - ready, 1),
        **window, "outputs": outputs, "load_average": load_average(),
        "digest": await digest(engine, schema),
    }


async def settle(infra: Any, engine: AsyncEngine, schema: str, topics: TopicSettings) -> dict[str, Any]:
    """The same end state whatever each instance's scheduled pass got done before it stopped (it runs once
    its own groups are read to the end, while others may still be draining): one pass brings every
    account to the stream's last midnight, and the cohort norms, built from whatever state the first
    pass found, are dropped (in force only after that midnight, no point used them). The outputs
    published, plus those of the settling pass (left in the outbox)."""
    await _rescorer(infra.database_url, schema).rescore_due(as_of=datetime.now(UTC))
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DELETE FROM "{schema}".cohort_norms'))
    outputs: dict[str, Any] = {"left_in_outbox": await _count(engine, f'SELECT count(*) FROM "{schema}".outbox')}
    for kind in PUBLISHED:
        ids = [v["event_id"] for v in await topic_values(infra.kafka_bootstrap, getattr(topics, kind))]
        outputs[kind] = {"records": len(ids), "distinct_event_ids": len(set(ids))}
    return outputs


def _rescorer(dsn: str, schema: str) -> Rescorer:
    engine = create_engine(dsn, pool_size=3)
    return Rescorer(pipeline=Pipeline(tables=health_tables(schema), topics=TopicSettings()),
                    wiring=PassWiring(engine=engine, sessions=make_sessionmaker(engine), interval_s=3600,
                                      chunk=CHUNK, grace_s=GRACE_S))


async def serve_pass(schema: str) -> None:
    """One pass process: ready, wait for "go" on stdin, one pass as of the stream's next day, the report."""
    rescorer = _rescorer(os.environ["ORCHARD_DATABASE_URL"], schema)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    started, cpu = time.time(), time.process_time()
    report = await rescorer.rescore_due(as_of=datetime.now(UTC) + timedelta(days=2))
    print(orjson.dumps({"started": started, "finished": time.time(), "cpu_s": time.process_time() - cpu,
                        "accounts": report.accounts if report else 0,
                        "chunks": report.chunks if report else 0}).decode(), flush=True)


async def rescore(infra: Any, engine: AsyncEngine, schema: str, passes: int) -> dict[str, Any]:
    """The stream one day on, the norms refreshed (once, before the clock), then `passes` processes at once."""
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'UPDATE "{schema}".stream_watermarks SET event_at = event_at + interval \'1 day\''))
        until = await conn.scalar(sa.text(f'SELECT max(event_at) FROM "{schema}".stream_watermarks'))
    prep = _rescorer(infra.database_url, schema)
    norms_started = time.perf_counter()
    await prep.refresh_norms_if_due(until.replace(hour=0, minute=0, second=0, microsecond=0))
    norms_s = time.perf_counter() - norms_started
    book = await _count(engine, f'SELECT count(*) FROM "{schema}".accounts')
    env = {**os.environ, PASS: schema, "ORCHARD_DATABASE_URL": infra.database_url}
    processes = [await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.scaleout", cwd=REPO, env=env,
                                                      stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
                 for _ in range(passes)]
    for p in processes:
        assert p.stdout is not None and (await p.stdout.readline()).strip() == b"ready"
    outbox_before = await _count(engine, f'SELECT count(*) FROM "{schema}".outbox')
    for p in processes:
        assert p.stdin is not None
        p.stdin.write(b"go\n")
        await p.stdin.drain()
    reports = [orjson.loads((await p.communicate())[0].splitlines()[-1]) for p in processes]
    seconds = max(r["finished"] for r in reports) - min(r["started"] for r in reports)
    accounts = sum(r["accounts"] for r in reports)
    return {
        "passes": passes, "accounts_in_book": book, "accounts": accounts, "seconds": round(seconds, 2),
        "accounts_per_s": round(accounts / seconds), "per_pass": reports, "norms_refresh_s": round(norms_s, 2),
        "cpu_s_per_1000_accounts": round(1000 * sum(r["cpu_s"] for r in reports) / max(accounts, 1), 3),
        "outputs_emitted": await _count(engine, f'SELECT count(*) FROM "{schema}".outbox') - outbox_before,
        "load_average": load_average(), "digest": await digest(engine, schema),
    }


def _same(runs: list[dict[str, Any]], *keys: str) -> bool:
    def pick(run: dict[str, Any]) -> Any:
        value: Any = run
        for key in keys:
            value = value[key]
        return value
    return all(pick(r) == pick(runs[0]) for r in runs)


async def main() -> None:
    events_n, accounts = sized("BENCH_SCALEOUT_EVENTS", 30_000, 3_000), sized("BENCH_SCALEOUT_ACCOUNTS", 3_000, 300)
    now = datetime.now(UTC).replace(microsecond=0)
    book = feed(accounts, events_n, now=now, prefix=BOOK)
    load_at_start = load_average()
    async with bench_infra() as infra:
        unique = new_unique()
        canonical = TopicSettings.model_validate({k: f"bench.{k}.{unique}" for k in TopicSettings.model_fields})
        await produce_feed(infra.kafka_bootstrap, canonical, book)
        engine = create_engine(infra.database_url, pool_size=2)
        runs: list[dict[str, Any]] = []
        rescores: list[dict[str, Any]] = []
        try:
            for n in _instances():
                runs.append(await drain(infra, engine, canonical, len(book), n))
                print("drain", n, orjson.dumps(runs[-1]).decode(), flush=True)
            for run in runs:
                rescores.append(await rescore(infra, engine, run["schema"], run["instances"]))
                print("rescore", orjson.dumps(rescores[-1]).decode(), flush=True)
        finally:
            await drop_schemas(engine, [r["schema"] for r in runs])
            await engine.dispose()
    # Outputs: those published plus those the settling pass left, the same in every run; none published twice.
    for run in runs:
        out = run["outputs"]
        out["total"] = out["left_in_outbox"] + out["account_health"]["records"] + out["churn_risk"]["records"]
    once = all(r["book_events_applied"] == len(book) for r in runs) and all(
        o["records"] == o["distinct_event_ids"] for r in runs for k, o in r["outputs"].items() if k in PUBLISHED)
    write_result("scaleout", {
        "load_average_at_start": load_at_start, "events": len(book), "accounts": accounts, "partitions": 6,
        "drain": runs, "rescore": rescores,
        "each_event_applied_once": once,
        "same_end_state": _same(runs, "digest") and _same(runs, "outputs", "total"),
        "rescore_each_account_once": _same(rescores, "digest") and _same(rescores, "outputs_emitted")
        and _same(rescores, "accounts"),
        "speedup": {str(r["instances"]): round(r["events_per_s"] / runs[0]["events_per_s"], 2) for r in runs},
        "rescore_speedup": {str(r["passes"]): round(r["accounts_per_s"] / rescores[0]["accounts_per_s"], 2)
                            for r in rescores},
        "notes": "drain: N health processes (python -m services.health), one consumer group, canonical topics of 6 "
                 "partitions holding the whole book before they start; events_per_s from the moment all answer "
                 "/readyz to the last of the book's events applied (its ids in processed_events, not the alert "
                 "inbox's), events_per_s_10_to_90 between 10 % and 90 % of the book. cpu: /proc utime+stime over the"
                 " same window; instances_busy = CPU s / wall s (1.0 is one core); postgres/kafka: every postgres "
                 "and kafka.Kafka process on the machine (other users' too); machine_busy_share: /proc/stat. digest:"
                 " accounts, score history and alerts after each run settled (events applied, outbox empty, "
                 "instances stopped, one pass to the last midnight); each_event_applied_once: every run applied "
                 "every book id and published no output id twice; same_end_state: every run's digest and output "
                 "total equal. rescore: the stream's watermarks moved a day on, norms refreshed before timing, then "
                 "N pass processes at once (one per instance count), each group under its own advisory lock; "
                 "outputs_emitted: outbox rows the passes wrote (no relay runs then).",
    })


if __name__ == "__main__":
    if os.environ.get(PASS):
        asyncio.run(serve_pass(os.environ[PASS]))
    else:
        asyncio.run(main())
