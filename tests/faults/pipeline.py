"""A fault scenario over the four services as real processes, on a broker and a database of the test's
own: a realistic book fed through the raw topic in chunks, a fault after each chunk, every process
alive again at the end, then the checks that every scenario ends with:

* nothing lost: every good event id is in ingest's processed_events, exactly once on the canonical
  topics, and in the processed_events of health and expansion (which read all three canonical topics)
  and, for contract events and every health.changed record, of renewals;
* nothing doubled: no output event id twice on the account-health, churn-risk or upsell topics
  (read_committed, as consumers read them), and every outbox empty;
* the DLQ holds exactly the poison a test sent, each with its reason, and nothing else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from services.health.inbox import INBOX_GROUP
from services.health.inbox import PROCESSED_PREFIX as INBOX_PROCESSED_PREFIX
from tests.conftest import new_unique
from tests.faults.history import CANONICAL, STREAM_TIME_ONLY, archetype_book
from tests.faults.infra_control import PrivateInfra
from tests.faults.observe import eventually, locate, processed_ids, settled, topic_values
from tests.faults.processes import Deployment
from tests.kafka_utils import produce

BOOK = {"accounts": 30, "months": 3, "seed": 5}
CHUNKS = 8
SERVICES = ("ingest", "health", "renewals", "expansion")
OUTPUTS = ("ACCOUNT_HEALTH", "CHURN_RISK", "UPSELL")
GROUP_TOPICS = {"ingest": ("RAW",), "health": CANONICAL, "expansion": (*CANONICAL, "ACCOUNT_HEALTH", "CHURN_RISK"),
                "renewals": ("CONTRACT", "ACCOUNT_HEALTH")}

Records = Sequence[tuple[str | None, bytes]]
Fault = Callable[[int], Awaitable[None]]
"""Called after each chunk of the book is produced, with the chunk's number."""


@dataclass
class Run:
    private: PrivateInfra
    engine: AsyncEngine
    deployment: Deployment
    good: list[dict[str, Any]]
    figures: Counter[str] = field(default_factory=Counter)

    @property
    def bootstrap(self) -> str:
        return self.private.infra.kafka_bootstrap

    def topic(self, name: str) -> str:
        return self.deployment.topic(name)


def deploy(private: PrivateInfra, logs: Path) -> Deployment:
    deployment = Deployment(private.infra, new_unique(), logs)
    for service in SERVICES:
        deployment.add(service)
    deployment["health"].env.update(STREAM_TIME_ONLY)
    return deployment


async def produce_with_retry(run: Run, topic: str, messages: Records) -> None:
    """The test's own producer outlives a broker restart the way a producer application would: it
    sends again what was not acknowledged (the ids make the repeats harmless)."""
    async def sent() -> bool:
        await produce(run.bootstrap, topic, messages)
        return True

    await eventually(f"{len(messages)} records produced to {topic}", sent, timeout=180, every=2.0)


async def feed(run: Run, fault: Fault, *, copies: int = 1, extra: Records = (), chunks: int = CHUNKS) -> None:
    raw = [(e["account_id"], orjson.dumps(e)) for e in run.good]
    size = -(-len(raw) // chunks)
    for number in range(chunks):
        chunk = raw[number * size:(number + 1) * size]
        if number == chunks // 2:
            chunk = [*chunk[: len(chunk) // 2], *extra, *chunk[len(chunk) // 2:]]
        for _ in range(copies):
            await produce_with_retry(run, run.topic("RAW"), chunk)
        run.figures["raw records sent"] += len(chunk) * copies
        await fault(number)


async def settle(run: Run) -> None:
    d = run.deployment
    await settled(
        bootstrap=run.bootstrap, engine=run.engine,
        groups={**{f"orchard-{s}": [d.topic(t) for t in GROUP_TOPICS[s]] for s in SERVICES},
                # health's alert inbox reads the churn-risk topic in a group of its own
                f"orchard-health-{INBOX_GROUP}": [d.topic("CHURN_RISK")]},
        schemas=[d.schema(s) for s in SERVICES],
        outputs=[d.topic(t) for t in ("ACCOUNT_HEALTH", "CHURN_RISK", "UPSELL", "DLQ")], timeout=600)


async def scenario(private: PrivateInfra, engine: AsyncEngine, logs: Path, fault: Callable[[Run], Fault], *,
                   copies: int = 1, poison: Records = (), chunks: int = CHUNKS,
                   configure: Callable[[Deployment], None] | None = None) -> Run:
    """`configure` may add processes (a second instance of a service) or settings before anything starts."""
    run = Run(private, engine, deploy(private, logs), archetype_book(**BOOK))
    if configure is not None:
        configure(run.deployment)
    processes = list(run.deployment.processes.values())
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready()
        await feed(run, fault(run), copies=copies, extra=poison, chunks=chunks)
        for process in processes:
            if not process.alive():
                process.start()
        await settle(run)
        return run
    except BaseException:
        run.deployment.stop_all()
        raise


async def check(run: Run, *, dead_letters: Counter[tuple[str, str]] | None = None,
                 canonical_copies: int = 1) -> list[dict[str, Any]]:
    """Everything the module docstring promises; returns the dead letters. `canonical_copies`: how many
    times each event is on the canonical topics (more than once only when the test wrote it there)."""
    d, bootstrap = run.deployment, run.bootstrap
    good_ids = {e["event_id"] for e in run.good}
    try:
        ingested = {i for i in await processed_ids(run.engine, d.schema("ingest")) if not i.startswith("dlq:")}
        assert ingested == good_ids, f"ingest: {len(good_ids - ingested)} lost, {len(ingested - good_ids)} unknown"
        canonical: Counter[str] = Counter()
        contract_ids: set[str] = set()
        for name in CANONICAL:
            values = await topic_values(bootstrap, d.topic(name))
            canonical.update(v["event_id"] for v in values if "event_id" in v)
            if name == "CONTRACT":
                contract_ids = {v["event_id"] for v in values}
        poison_ids = set(canonical) - good_ids
        assert not poison_ids, f"not from the book on the canonical topics: {sorted(poison_ids)[:5]}"
        assert set(canonical) == good_ids, f"{len(good_ids - set(canonical))} never reached a canonical topic"
        assert set(canonical.values()) == {canonical_copies}, f"on canonical topics: {canonical.most_common(3)}"
        outputs = {name: await topic_values(bootstrap, d.topic(name)) for name in OUTPUTS}
        for name, values in outputs.items():
            counts = Counter(v["event_id"] for v in values)
            assert not counts or max(counts.values()) == 1, f"{name}: doubled {counts.most_common(3)}"
            run.figures[f"{name.lower()} records"] = len(values)
        assert outputs["ACCOUNT_HEALTH"] and outputs["CHURN_RISK"], "the book raises scores and alerts at all"
        health_outputs = {v["event_id"] for name in ("ACCOUNT_HEALTH", "CHURN_RISK") for v in outputs[name]}
        # Health's alert inbox reads every churn-risk record back (its own and other services'), under a prefix.
        inbox = {INBOX_PROCESSED_PREFIX + v["event_id"] for v in outputs["CHURN_RISK"]}
        for service, expected_ids in (("health", good_ids | inbox), ("expansion", good_ids | health_outputs)):
            seen = {i for i in await processed_ids(run.engine, d.schema(service)) if not i.startswith("dlq:")}
            await same_ids(run, service, seen, expected_ids)
        renewals = {i for i in await processed_ids(run.engine, d.schema("renewals")) if not i.startswith("dlq:")}
        await same_ids(run, "renewals", renewals, contract_ids | {v["event_id"] for v in outputs["ACCOUNT_HEALTH"]})
        letters = await topic_values(bootstrap, d.topic("DLQ"))
        found = Counter((letter["service"], letter["error_kind"]) for letter in letters)
        assert found == (dead_letters or Counter()), f"dead letters: {found}; {[x['error'] for x in letters][:5]}"
        run.figures["good events"] = len(good_ids)
        run.figures["dead letters"] = len(letters)
        return letters
    finally:
        run.deployment.stop_all()


async def same_ids(run: Run, service: str, seen: set[str], expected: set[str]) -> None:
    if seen == expected:
        return
    lost = expected - seen
    where = await locate(run.bootstrap, [run.topic(t) for t in GROUP_TOPICS[service]], lost, f"orchard-{service}")
    raise AssertionError(f"{service}: {len(lost)} lost ({where}), {len(seen - expected)} unknown")


def report(name: str, run: Run) -> None:
    kills = sum(p.kills for p in run.deployment.processes.values())
    print(f"\nFAULTS {name}: {dict(run.figures)}, kills {kills}, lost 0, doubled 0")


