"""Two instances of each downstream service in one consumer group, fed a realistic book
(tests/faults/pipeline.py) while instances are SIGKILLed at random, a lock holds the database's
writes, and an instance is stuck (SIGSTOP) longer than its session timeout. Short group timeouts (a
few seconds, by configuration) make partitions move during the run rather than after it. Whatever
happened, nothing is lost and nothing doubled (pipeline.check)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.faults.infra_control import PrivateInfra
from tests.faults.pipeline import Fault, Run, check, report, scenario
from tests.faults.processes import Deployment
from tests.kafka_utils import QUICK_GROUP_TIMEOUTS

pytestmark = [pytest.mark.integration, pytest.mark.faults]

DOWNSTREAM = ("health", "renewals", "expansion")
SHORT_GROUP_TIMEOUTS = {**QUICK_GROUP_TIMEOUTS, "ORCHARD_CONSUMER_MAX_POLL_INTERVAL_MS": "15000"}
SESSION_S = 6.0
POLL_S = 15.0


def _two_of(services: tuple[str, ...]) -> Callable[[Deployment], None]:
    def configure(deployment: Deployment) -> None:
        for process in deployment.processes.values():
            process.env.update(SHORT_GROUP_TIMEOUTS)
        for service in services:
            deployment.twin(f"{service}-2", of=service)
    return configure


async def test_instances_sigkilled_at_random_two_per_group(private: tuple[PrivateInfra, AsyncEngine],
                                                            tmp_path: Path) -> None:
    infra, engine = private
    chunks = 26
    rng = random.Random(7)

    def fault(run: Run) -> Fault:
        names = sorted(run.deployment.processes)

        async def kill(chunk: int) -> None:
            # Two processes at random after each chunk; once, both instances of health together.
            victims = ["health", "health-2"] if chunk == chunks // 2 else rng.sample(names, 2)
            await asyncio.sleep(rng.uniform(0.0, 0.8))
            for name in victims:
                run.deployment[name].kill()
            for name in victims:
                run.deployment[name].start()
        return kill

    run = await scenario(infra, engine, tmp_path, fault, chunks=chunks, configure=_two_of(DOWNSTREAM))
    await check(run)
    kills = {name: process.kills for name, process in run.deployment.processes.items()}
    assert sum(kills.values()) >= 50, kills
    assert all(kills[s] and kills[f"{s}-2"] for s in DOWNSTREAM), f"both instances of each service killed: {kills}"
    report("sigkills at random, two instances per downstream group", run)


async def test_a_held_lock_stalls_and_a_stuck_instance_leaves_the_group(private: tuple[PrivateInfra, AsyncEngine],
                                                                        tmp_path: Path) -> None:
    infra, engine = private
    stalled: list[tuple[int, int]] = []

    def fault(run: Run) -> Fault:
        table = f'"{run.deployment.schema("health")}".processed_events'

        async def applied() -> int:
            async with engine.connect() as conn:
                return int(await conn.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)

        async def hold_then_stick(chunk: int) -> None:
            if chunk == 2:
                # Writes to health's processed ids wait behind a lock for longer than the poll interval
                # (reads go on): both instances' batches hang in the database, not in the handler.
                await asyncio.sleep(0.5)
                async with engine.connect() as conn, conn.begin():
                    await conn.execute(sa.text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))
                    before = await applied()
                    await asyncio.sleep(POLL_S + 10)
                    stalled.append((before, await applied()))
                run.figures["lock held (s)"] = int(POLL_S + 10)
            if chunk == 5:
                # One instance stuck as a whole (no heartbeat) past its session: its partitions move.
                stuck = run.deployment["health-2"]
                await asyncio.sleep(0.5)
                stuck.pause()
                await asyncio.sleep(SESSION_S * 2)
                stuck.resume()
                run.figures["stuck (s)"] = int(SESSION_S * 2)
        return hold_then_stick

    run = await scenario(infra, engine, tmp_path, fault, configure=_two_of(("health",)))
    try:
        assert stalled and stalled[0][0] == stalled[0][1], f"nothing applied while the lock was held: {stalled}"
        assert all(p.starts == 1 for p in run.deployment.processes.values()), "every instance recovered by itself"
    except BaseException:
        run.deployment.stop_all()
        raise
    await check(run)
    report("held lock and a stuck instance", run)
