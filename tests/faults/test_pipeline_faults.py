"""The four services as real processes on a broker and a database of the test's own, fed a realistic
book through the raw topic while something goes wrong: the broker restarts, PostgreSQL restarts
(fast shutdown: open transactions cut), each service is SIGKILLed, poison is mixed in, or every
event comes three times. Whatever happened, at the end:

* nothing lost: every good event id is in ingest's processed_events, exactly once on the canonical
  topics, and in the processed_events of health and expansion (which read all three canonical topics)
  and, for contract events and every health.changed record, of renewals;
* nothing doubled: no output event id twice on the account-health, churn-risk or upsell topics
  (read_committed, as consumers read them), and every outbox empty;
* the DLQ holds exactly the poison, each with its reason, and nothing else.
"""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.health.inbox import INBOX_GROUP
from services.health.inbox import PROCESSED_PREFIX as INBOX_PROCESSED_PREFIX
from tests.conftest import new_unique
from tests.faults.history import CANONICAL, archetype_book
from tests.faults.infra_control import PrivateInfra
from tests.faults.observe import eventually, locate, processed_ids, settled, topic_values
from tests.faults.processes import Deployment
from tests.kafka_utils import produce

pytestmark = [pytest.mark.integration, pytest.mark.faults]

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


def _deploy(private: PrivateInfra, logs: Path) -> Deployment:
    deployment = Deployment(private.infra, new_unique(), logs)
    for service in SERVICES:
        deployment.add(service)
    # The scheduler judges silence only up to the stream's own time (see test_batch_independence).
    deployment["health"].env.update(ORCHARD_HEALTH_STREAM_QUIET_S="1000000000", ORCHARD_HEALTH_RESCORE_INTERVAL_S="2",
                                    ORCHARD_HEALTH_MIDNIGHT_GRACE_S="0")
    return deployment


async def _produce_with_retry(run: Run, topic: str, messages: Records) -> None:
    """The test's own producer outlives a broker restart the way a producer application would: it
    sends again what was not acknowledged (the ids make the repeats harmless)."""
    async def sent() -> bool:
        await produce(run.bootstrap, topic, messages)
        return True

    await eventually(f"{len(messages)} records produced to {topic}", sent, timeout=180, every=2.0)


async def _feed(run: Run, fault: Fault, *, copies: int = 1, extra: Records = ()) -> None:
    raw = [(e["account_id"], orjson.dumps(e)) for e in run.good]
    size = -(-len(raw) // CHUNKS)
    for number in range(CHUNKS):
        chunk = raw[number * size:(number + 1) * size]
        if number == CHUNKS // 2:
            chunk = [*chunk[: len(chunk) // 2], *extra, *chunk[len(chunk) // 2:]]
        for _ in range(copies):
            await _produce_with_retry(run, run.topic("RAW"), chunk)
        run.figures["raw records sent"] += len(chunk) * copies
        await fault(number)


async def _settle(run: Run) -> None:
    d = run.deployment
    await settled(
        bootstrap=run.bootstrap, engine=run.engine,
        groups={**{f"orchard-{s}": [d.topic(t) for t in GROUP_TOPICS[s]] for s in SERVICES},
                # health's alert inbox reads the churn-risk topic in a group of its own
                f"orchard-health-{INBOX_GROUP}": [d.topic("CHURN_RISK")]},
        schemas=[d.schema(s) for s in SERVICES],
        outputs=[d.topic(t) for t in ("ACCOUNT_HEALTH", "CHURN_RISK", "UPSELL", "DLQ")], timeout=600)


async def _scenario(private: PrivateInfra, engine: AsyncEngine, logs: Path, fault: Callable[[Run], Fault], *,
                    copies: int = 1, poison: Records = ()) -> Run:
    run = Run(private, engine, _deploy(private, logs), archetype_book(**BOOK))
    try:
        for service in SERVICES:
            run.deployment[service].start()
        for service in SERVICES:
            run.deployment[service].wait_ready()
        await _feed(run, fault(run), copies=copies, extra=poison)
        for service in SERVICES:
            process = run.deployment[service]
            if not process.alive():
                process.start()
        await _settle(run)
        return run
    except BaseException:
        run.deployment.stop_all()
        raise


async def _check(run: Run, *, dead_letters: Counter[tuple[str, str]] | None = None,
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
            await _same_ids(run, service, seen, expected_ids)
        renewals = {i for i in await processed_ids(run.engine, d.schema("renewals")) if not i.startswith("dlq:")}
        await _same_ids(run, "renewals", renewals, contract_ids | {v["event_id"] for v in outputs["ACCOUNT_HEALTH"]})
        letters = await topic_values(bootstrap, d.topic("DLQ"))
        found = Counter((letter["service"], letter["error_kind"]) for letter in letters)
        assert found == (dead_letters or Counter()), f"dead letters: {found}; {[x['error'] for x in letters][:5]}"
        run.figures["good events"] = len(good_ids)
        run.figures["dead letters"] = len(letters)
        return letters
    finally:
        run.deployment.stop_all()


async def _same_ids(run: Run, service: str, seen: set[str], expected: set[str]) -> None:
    if seen == expected:
        return
    lost = expected - seen
    where = await locate(run.bootstrap, [run.topic(t) for t in GROUP_TOPICS[service]], lost, f"orchard-{service}")
    raise AssertionError(f"{service}: {len(lost)} lost ({where}), {len(seen - expected)} unknown")


def _report(name: str, run: Run) -> None:
    kills = sum(p.kills for p in run.deployment.processes.values())
    print(f"\nFAULTS {name}: {dict(run.figures)}, kills {kills}, lost 0, doubled 0")


def _restarts(stop: Callable[[], None], start: Callable[[], None], what: str) -> Callable[[Run], Fault]:
    """Twice, after chunks 2 and 5: half a second into the services' batches, stop `what` for 5 s."""
    def fault(run: Run) -> Fault:
        async def restart(chunk: int) -> None:
            if chunk in (2, 5):
                await asyncio.sleep(0.5)
                await run.engine.dispose()  # the test's own connections go down with it too
                stop()
                await asyncio.sleep(5)
                start()
                run.figures[f"{what} restarts"] += 1
        return restart
    return fault


async def test_broker_restarts_mid_stream(private: tuple[PrivateInfra, AsyncEngine], tmp_path: Path) -> None:
    infra, engine = private
    run = await _scenario(infra, engine, tmp_path, _restarts(infra.stop_kafka, infra.start_kafka, "broker"))
    await _check(run)
    _report("broker restart", run)


async def test_postgres_restarts_mid_batch(private: tuple[PrivateInfra, AsyncEngine], tmp_path: Path) -> None:
    infra, engine = private
    run = await _scenario(infra, engine, tmp_path, _restarts(infra.stop_postgres, infra.start_postgres, "postgres"))
    await _check(run)
    _report("postgres restart", run)


async def test_each_service_sigkilled_under_load(private: tuple[PrivateInfra, AsyncEngine], tmp_path: Path) -> None:
    infra, engine = private

    def fault(run: Run) -> Fault:
        async def kill(chunk: int) -> None:
            # Two rounds over the four services, each killed inside its work and started again at once.
            await asyncio.sleep(0.3)
            process = run.deployment[SERVICES[chunk % len(SERVICES)]]
            process.kill()
            process.start()
        return kill

    run = await _scenario(infra, engine, tmp_path, fault)
    await _check(run)
    assert all(run.deployment[s].kills == CHUNKS // len(SERVICES) for s in SERVICES)
    _report("sigkill each service", run)


POISON_RAW: Records = [
    ("poison-acct", b"{not json"),
    ("poison-acct", orjson.dumps({"event_id": "poison-unknown-type", "type": "usage.exploded", "schema_version": 1,
                                  "account_id": "poison-acct", "occurred_at": "2025-02-01T00:00:00Z", "data": {}})),
    ("poison-acct", orjson.dumps({"event_id": "poison-negative", "type": "usage.recorded", "schema_version": 1,
                                  "account_id": "poison-acct", "occurred_at": "2025-02-01T00:00:00Z",
                                  "data": {"feature": "reports", "quantity": -5}})),
]


async def test_poison_among_good_events(private: tuple[PrivateInfra, AsyncEngine], tmp_path: Path) -> None:
    infra, engine = private

    def fault(run: Run) -> Fault:
        async def garbage_downstream(chunk: int) -> None:
            if chunk == CHUNKS // 2:  # a record no producer of the canonical topics should write
                await produce(run.bootstrap, run.topic("USAGE"), [("poison-acct", b"\xff\xfe not an event")])
        return garbage_downstream

    run = await _scenario(infra, engine, tmp_path, fault, poison=POISON_RAW)
    letters = await _check(run, dead_letters=Counter({("ingest", "validation"): 3, ("health", "validation"): 1,
                                                      ("expansion", "validation"): 1}))
    originals = {letter["original_base64"] for letter in letters if letter["service"] == "ingest"}
    assert originals == {base64.b64encode(raw).decode() for _, raw in POISON_RAW}, "the original bytes are kept"
    assert all(letter["error"] for letter in letters), "every dead letter says why"
    _report("poison", run)


async def test_duplicate_storm(private: tuple[PrivateInfra, AsyncEngine], tmp_path: Path) -> None:
    infra, engine = private

    def fault(run: Run) -> Fault:
        async def nothing(chunk: int) -> None:
            return None
        return nothing

    run = await _scenario(infra, engine, tmp_path, fault, copies=3)
    before = {name: await topic_values(run.bootstrap, run.topic(name)) for name in OUTPUTS}
    # The canonical records themselves, twice more, straight to their topics: downstream de-duplication.
    for name in CANONICAL:
        again = [(v["account_id"], orjson.dumps(v)) for v in await topic_values(run.bootstrap, run.topic(name))]
        for _ in range(2):
            await produce(run.bootstrap, run.topic(name), again)
        run.figures["canonical records re-sent"] += 2 * len(again)
    await _settle(run)
    after = {name: await topic_values(run.bootstrap, run.topic(name)) for name in before}
    assert {n: len(v) for n, v in after.items()} == {n: len(v) for n, v in before.items()}, "duplicates made outputs"
    await _check(run, canonical_copies=3)
    _report("duplicate storm", run)
