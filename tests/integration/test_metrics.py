"""What /metrics shows of the plumbing, against the real broker and database: consumer lag per
partition as the runner works through a backlog, and the age of events when they are applied. (Ages at
publication and alert counts: tests/integration/health/test_metrics.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from shared.consumer import BatchContext, ConsumedEvent, ConsumerRunner
from shared.events import parse_event
from shared.kafka import make_consumer
from shared.metrics import AGE_BUCKETS
from tests.infra import Infra
from tests.integration.plumbing_harness import Setup, deployed
from tests.integration.plumbing_service import build
from tests.kafka_utils import create_topic, envelope, produce, wait_for

pytestmark = pytest.mark.integration


def _sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def _age_count(service: str, stage: str, topic: str, *, le: float | None = None) -> float:
    """Observations of orchard_event_age_seconds (at most `le` seconds old, when given)."""
    if le is None:
        return _sample("orchard_event_age_seconds_count", service=service, stage=stage, topic=topic) or 0.0
    return _sample("orchard_event_age_seconds_bucket", service=service, stage=stage, topic=topic,
                   le=str(float(le))) or 0.0


async def test_lag_per_partition_follows_a_backlog_down_to_zero_and_ages_come_from_occurred_at(
    infra: Infra, plumbing: Setup, unique: str
) -> None:
    topic = f"test.lagged.{unique}"
    await create_topic(infra.kafka_bootstrap, topic, partitions=1)
    backlog = Setup(plumbing.schema, topic, plumbing.out_topic, plumbing.dlq_topic, plumbing.service)
    hours_ago = datetime.now(UTC) - timedelta(hours=2)
    events = [(f"acct-{i % 5}", envelope(event_id=f"lag-{unique}-{i}", account_id=f"acct-{i % 5}",
                                         occurred_at=hours_ago)) for i in range(60)]
    await produce(infra.kafka_bootstrap, topic, events)

    counting = build(plumbing.schema, plumbing.out_topic)
    second_batch = asyncio.Event()
    release = asyncio.Event()
    batches = 0

    async def held_after_the_first_batch(ctx: BatchContext, batch: Sequence[ConsumedEvent]) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            second_batch.set()
            await release.wait()
        await counting.handle(ctx, batch)

    lag = {"service": plumbing.service, "topic": topic, "partition": "0"}
    async with deployed(infra, backlog, held_after_the_first_batch, consumer_max_records=10):
        try:
            await asyncio.wait_for(second_batch.wait(), timeout=60)

            async def first_committed() -> bool:
                return _sample("orchard_consumer_lag", **lag) == 50

            # The first batch (10 records) committed while the second is held in its handler: the lag is
            # every record after it, the batches in flight (the held one, the one fetched behind it) too.
            await wait_for(first_committed, timeout=30, what="the lag behind the first batch's commit")
        finally:
            release.set()  # a failed check must not leave the runner's stop waiting on the held batch

        async def drained() -> bool:
            return _sample("orchard_consumer_lag", **lag) == 0

        await wait_for(drained, timeout=60, what="lag back to zero")
    assert _age_count(plumbing.service, "applied", topic) == len(events)
    # Two hours old: above the one-hour bucket, inside the four-hour one.
    assert 3600 in AGE_BUCKETS and 4 * 3600 in AGE_BUCKETS
    assert _age_count(plumbing.service, "applied", topic, le=3600) == 0
    assert _age_count(plumbing.service, "applied", topic, le=4 * 3600) == len(events)
    # The counting service's outputs carry no occurred_at of their own: no age to tell, and no error.
    assert _age_count(plumbing.service, "published", plumbing.out_topic) == 0


def _lag_partitions(service: str, topic: str) -> set[int]:
    return {int(sample.labels["partition"]) for metric in REGISTRY.collect() if metric.name == "orchard_consumer_lag"
            for sample in metric.samples if sample.labels["service"] == service and sample.labels["topic"] == topic}


async def test_each_instance_reports_the_lag_of_the_partitions_it_owns_and_none_once_stopped(
    infra: Infra, plumbing: Setup
) -> None:
    counting = build(plumbing.schema, plumbing.out_topic)
    await produce(infra.kafka_bootstrap, plumbing.in_topic,
                  [(f"a{i}", envelope(event_id=f"{plumbing.service}-own-{i}", account_id=f"a{i}")) for i in range(9)])
    first = plumbing.service
    async with deployed(infra, plumbing, counting.handle) as (runtime, _):
        async def all_three() -> bool:
            return _lag_partitions(first, plumbing.in_topic) == {0, 1, 2}

        await wait_for(all_three, timeout=60, what="the only instance reporting all three partitions")
        # A second instance joins the group (reported under another name, as its own process would be).
        second = f"{first}-second"
        joiner = ConsumerRunner(
            service=second,
            consumer=make_consumer(infra.kafka_bootstrap, group_id=plumbing.group, client_id=second),
            topics=[plumbing.in_topic], sessions=runtime.sessions, tables=runtime.tables, handler=counting.handle,
            dlq_topic=plumbing.dlq_topic, parser=parse_event, max_wait_ms=50,
        )
        joined = asyncio.create_task(joiner.run())
        try:
            async def shared_out() -> bool:
                mine, theirs = _lag_partitions(first, plumbing.in_topic), _lag_partitions(second, plumbing.in_topic)
                return bool(mine) and bool(theirs) and not mine & theirs and mine | theirs == {0, 1, 2}

            # The first instance's revoked partitions leave its series: no stale lag for another's partitions.
            await wait_for(shared_out, timeout=60, what="the partitions reported once, each by its owner")
        finally:
            joiner.stop()
            await joined
        assert _lag_partitions(second, plumbing.in_topic) == set(), "a stopped instance reports no lag"
    assert _lag_partitions(first, plumbing.in_topic) == set()
