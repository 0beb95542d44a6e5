"""A bug in a handler is not the events' fault: it stops the partitions, visibly, and dead-letters
nothing; once the fixed version is deployed, every event is applied exactly once.

Against the real broker and database, with the counting service of ``plumbing_service``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import orjson
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.consumer import BatchContext, ConsumedEvent, ConsumerRunner
from shared.runtime import Runtime
from tests.infra import Infra
from tests.integration.plumbing_harness import Setup, counts, deployed, make_events, total_is
from tests.integration.plumbing_service import build
from tests.kafka_utils import committed_offsets, envelope, produce, read_all, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def _handler_errors(plumbing: Setup, error: str) -> float:
    value = REGISTRY.get_sample_value("orchard_handler_errors_total", {"service": plumbing.service, "error": error})
    return value or 0.0


class Attempts:
    """Counts the batches handed to a buggy handler."""

    def __init__(self) -> None:
        self.count = 0

    async def at_least(self, n: int) -> None:
        async def reached() -> bool:
            return self.count >= n

        await wait_for(reached, timeout=30, what=f"{n} attempts")


async def _assert_stopped_visibly(
    infra: Infra, plumbing: Setup, runtime: Runtime, runner: ConsumerRunner, attempts: Attempts, *, error: str
) -> None:
    await attempts.at_least(3)
    dead = await read_all(infra.kafka_bootstrap, plumbing.dlq_topic, settle_s=1.0)
    assert dead == [], f"{len(dead)} records dead-lettered for a bug in the handler"
    assert not runner.healthy
    assert await runtime.readiness_checks()["consumers"]() is False, "/readyz must say not ready"
    assert _handler_errors(plumbing, error) >= 3, "each failed attempt is counted for alerting"


async def _fixed_and_restarted(infra: Infra, engine: AsyncEngine, plumbing: Setup,
                               events: Sequence[tuple[str, bytes]]) -> None:
    fixed = build(plumbing.schema, plumbing.out_topic)
    async with deployed(infra, plumbing, fixed.handle):
        await wait_for(lambda: total_is(engine, plumbing.schema, len(events)), timeout=60, what="every event applied")

        async def all_out() -> bool:
            return len(await read_all(infra.kafka_bootstrap, plumbing.out_topic)) >= len(events)

        await wait_for(all_out, timeout=60, what="every output event")
    assert await counts(engine, plumbing.schema) == dict(Counter(key for key, _ in events))
    out = [orjson.loads(r.value)["event_id"] for r in await read_all(infra.kafka_bootstrap, plumbing.out_topic)]
    assert sorted(out) == sorted(f"counted:{orjson.loads(value)['event_id']}" for _, value in events)
    assert await read_all(infra.kafka_bootstrap, plumbing.dlq_topic) == []
    committed = await committed_offsets(infra.kafka_bootstrap, plumbing.group, plumbing.in_topic)
    assert sum(committed.values()) == len(events)


async def test_a_handler_that_fails_on_every_event_dead_letters_nothing_and_the_fix_applies_all(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    events = make_events(240, 7, "bug-all")
    await produce(infra.kafka_bootstrap, plumbing.in_topic, events)

    attempts = Attempts()

    async def buggy(ctx: BatchContext, batch: Sequence[ConsumedEvent]) -> None:
        attempts.count += 1
        raise TypeError("'NoneType' object is not subscriptable")  # say, a field renamed in a refactor

    async with deployed(infra, plumbing, buggy) as (runtime, runner):
        await _assert_stopped_visibly(infra, plumbing, runtime, runner, attempts, error="TypeError")
        assert await committed_offsets(infra.kafka_bootstrap, plumbing.group, plumbing.in_topic) == {}
        assert await counts(engine, plumbing.schema) == {}

    await _fixed_and_restarted(infra, engine, plumbing, events)


async def test_a_handler_that_fails_on_some_accounts_never_moves_their_offsets_past_them(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    events = make_events(240, 7, "bug-some")
    await produce(infra.kafka_bootstrap, plumbing.in_topic, events)
    fixed = build(plumbing.schema, plumbing.out_topic)
    attempts = Attempts()

    async def buggy(ctx: BatchContext, batch: Sequence[ConsumedEvent]) -> None:
        if any(e.parsed.account_id == "acct-3" for e in batch):
            attempts.count += 1
            raise KeyError("acct-3")  # a lookup that misses for one account's data
        await fixed.handle(ctx, batch)

    first_bad: dict[int, int] = {}
    for record in await read_all(infra.kafka_bootstrap, plumbing.in_topic):
        if record.key == b"acct-3":
            first_bad[record.partition] = min(first_bad.get(record.partition, record.offset), record.offset)

    async with deployed(infra, plumbing, buggy) as (runtime, runner):
        await _assert_stopped_visibly(infra, plumbing, runtime, runner, attempts, error="KeyError")
        committed = await committed_offsets(infra.kafka_bootstrap, plumbing.group, plumbing.in_topic)
        assert all(committed.get(partition, 0) <= offset for partition, offset in first_bad.items()), (
            committed, first_bad)
        assert "acct-3" not in await counts(engine, plumbing.schema)

    await _fixed_and_restarted(infra, engine, plumbing, events)


async def test_a_batch_mostly_rejected_trips_the_breaker_instead_of_filling_the_dlq(
    infra: Infra, engine: AsyncEngine, plumbing: Setup
) -> None:
    # One account, so one partition and one batch: 40 of 60 events rejected by the (faulty) rule.
    events = [("acct-0", envelope(event_id=f"breaker-{i}", account_id="acct-0",
                                  data={"feature": "explode" if i % 3 else "reports"})) for i in range(60)]
    await produce(infra.kafka_bootstrap, plumbing.in_topic, events)
    service = build(plumbing.schema, plumbing.out_topic)
    attempts = Attempts()

    async def counting(ctx: BatchContext, batch: Sequence[ConsumedEvent]) -> None:
        attempts.count += 1
        await service.handle(ctx, batch)

    async with deployed(infra, plumbing, counting) as (runtime, runner):
        await _assert_stopped_visibly(infra, plumbing, runtime, runner, attempts, error="TooManyRejections")
        assert await committed_offsets(infra.kafka_bootstrap, plumbing.group, plumbing.in_topic) == {}
        assert await counts(engine, plumbing.schema) == {}

    # The operator looks, finds the data really is bad, and lets it through.
    async with deployed(infra, plumbing, service.handle, consumer_dlq_breaker_share=1.0):
        async def forty_dead_letters() -> bool:
            return len(await read_all(infra.kafka_bootstrap, plumbing.dlq_topic)) >= 40

        await wait_for(forty_dead_letters, timeout=60, what="the 40 rejected events dead-lettered")
        await wait_for(lambda: total_is(engine, plumbing.schema, 20), timeout=30, what="the 20 others applied")
    dead = [orjson.loads(r.value) for r in await read_all(infra.kafka_bootstrap, plumbing.dlq_topic)]
    assert len(dead) == 40 and {d["error_kind"] for d in dead} == {"rejected"}
