"""The four services as real processes fed a realistic book (tests/faults/pipeline.py) while something
goes wrong: the broker restarts, PostgreSQL restarts (fast shutdown: open transactions cut), each
service is SIGKILLed, poison is mixed in, or every event comes three times. Whatever happened, nothing
is lost, nothing doubled, and the DLQ holds exactly the poison (pipeline.check)."""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.faults.history import CANONICAL
from tests.faults.infra_control import PrivateInfra
from tests.faults.observe import topic_values
from tests.faults.pipeline import CHUNKS, OUTPUTS, SERVICES, Fault, Records, Run, check, report, scenario, settle
from tests.kafka_utils import produce

pytestmark = [pytest.mark.integration, pytest.mark.faults]


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
    run = await scenario(infra, engine, tmp_path, _restarts(infra.stop_kafka, infra.start_kafka, "broker"))
    await check(run)
    report("broker restart", run)


async def test_postgres_restarts_mid_batch(private: tuple[PrivateInfra, AsyncEngine], tmp_path: Path) -> None:
    infra, engine = private
    run = await scenario(infra, engine, tmp_path, _restarts(infra.stop_postgres, infra.start_postgres, "postgres"))
    await check(run)
    report("postgres restart", run)


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

    run = await scenario(infra, engine, tmp_path, fault)
    await check(run)
    assert all(run.deployment[s].kills == CHUNKS // len(SERVICES) for s in SERVICES)
    report("sigkill each service", run)


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

    run = await scenario(infra, engine, tmp_path, fault, poison=POISON_RAW)
    letters = await check(run, dead_letters=Counter({("ingest", "validation"): 3, ("health", "validation"): 1,
                                                      ("expansion", "validation"): 1}))
    originals = {letter["original_base64"] for letter in letters if letter["service"] == "ingest"}
    assert originals == {base64.b64encode(raw).decode() for _, raw in POISON_RAW}, "the original bytes are kept"
    assert all(letter["error"] for letter in letters), "every dead letter says why"
    report("poison", run)


async def test_duplicate_storm(private: tuple[PrivateInfra, AsyncEngine], tmp_path: Path) -> None:
    infra, engine = private

    def fault(run: Run) -> Fault:
        async def nothing(chunk: int) -> None:
            return None
        return nothing

    run = await scenario(infra, engine, tmp_path, fault, copies=3)
    before = {name: await topic_values(run.bootstrap, run.topic(name)) for name in OUTPUTS}
    # The canonical records themselves, twice more, straight to their topics: downstream de-duplication.
    for name in CANONICAL:
        again = [(v["account_id"], orjson.dumps(v)) for v in await topic_values(run.bootstrap, run.topic(name))]
        for _ in range(2):
            await produce(run.bootstrap, run.topic(name), again)
        run.figures["canonical records re-sent"] += 2 * len(again)
    await settle(run)
    after = {name: await topic_values(run.bootstrap, run.topic(name)) for name in before}
    assert {n: len(v) for n, v in after.items()} == {n: len(v) for n, v in before.items()}, "duplicates made outputs"
    await check(run, canonical_copies=3)
    report("duplicate storm", run)
