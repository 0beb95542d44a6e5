"""Rebuilding a downstream service from the canonical topics (``shared.replay``), on the real broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.replay import ReplayRefused, commit_group_offsets, run
from shared.runtime import Runtime
from shared.settings import OrchardSettings
from tests.infra import Infra
from tests.integration.plumbing_service import VERSIONS, build
from tests.kafka_utils import committed_offsets, envelope, produce, wait_for
from tests.services import topics_for

pytestmark = pytest.mark.integration

HOOK = "tests.integration.ingest.replay_hook"


class Downstream:
    """A counting service (events per account) consuming the canonical usage topic."""

    def __init__(self, infra: Infra, *, schema: str, unique: str) -> None:
        self.infra = infra
        self.schema = schema
        self.name = f"replayed-{unique}"
        self.group = f"orchard-{self.name}"
        self.settings = OrchardSettings(
            service_name=self.name, kafka_bootstrap=infra.kafka_bootstrap, database_url=infra.database_url,
            topics=topics_for(unique), consumer_max_wait_ms=50,
        )
        self.topic = self.settings.topics.usage

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        service = build(self.schema, self.settings.topics.upsell, emit=False)
        runtime = Runtime(self.settings, tables=service.tables, versions_dir=VERSIONS)
        await runtime.start()
        runner = runtime.consumer_runner(topics=[self.topic], handler=service.handle)
        task = asyncio.create_task(runner.run())
        try:
            yield
        finally:
            runner.stop()
            await task
            await runtime.close()

    async def counts(self, engine: AsyncEngine) -> dict[str, int]:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text(f'SELECT account_id, events FROM "{self.schema}".account_counts'))).all()
        return {row[0]: row[1] for row in rows}

    async def consume_until(self, engine: AsyncEngine, total: int) -> dict[str, int]:
        async def reached() -> bool:
            return sum((await self.counts(engine)).values()) >= total

        async with self.running():
            await wait_for(reached, timeout=30, what=f"{total} events counted")
        return await self.counts(engine)

    def replay_args(self, *extra: str) -> list[str]:
        return [self.name, "--schema", self.schema, "--hook", HOOK, *extra]


@pytest.fixture
def downstream(infra: Infra, schema: str, unique: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Downstream]:
    monkeypatch.setenv("ORCHARD_KAFKA_BOOTSTRAP", infra.kafka_bootstrap)
    monkeypatch.setenv("ORCHARD_DATABASE_URL", infra.database_url)
    yield Downstream(infra, schema=schema, unique=unique)


def _events(prefix: str, n: int) -> list[tuple[str, bytes]]:
    return [(f"acct-{i % 5}", envelope(event_id=f"{prefix}-{i}", account_id=f"acct-{i % 5}")) for i in range(n)]


async def _processed(engine: AsyncEngine, schema: str) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.text(f'SELECT count(*) FROM "{schema}".processed_events')) or 0)


async def test_replay_from_the_beginning_resets_the_group_and_the_service_re_derives_its_state(
    downstream: Downstream, engine: AsyncEngine
) -> None:
    await produce(downstream.infra.kafka_bootstrap, downstream.topic, _events("a", 60))
    before = await downstream.consume_until(engine, 60)
    committed = await committed_offsets(downstream.infra.kafka_bootstrap, downstream.group, downstream.topic)
    assert sum(committed.values()) == 60

    assert await run(downstream.replay_args("--yes")) == 0

    after_reset = await committed_offsets(downstream.infra.kafka_bootstrap, downstream.group, downstream.topic)
    assert set(after_reset) == set(range(downstream.settings.topic_partitions))
    assert set(after_reset.values()) == {0}, "every partition back at its first record, on the broker"
    assert await downstream.counts(engine) == {} and await _processed(engine, downstream.schema) == 0

    assert await downstream.consume_until(engine, 60) == before, "the same state re-derived, nothing counted twice"


async def test_replay_from_a_time_starts_each_partition_at_its_first_record_since(
    downstream: Downstream, engine: AsyncEngine
) -> None:
    await produce(downstream.infra.kafka_bootstrap, downstream.topic, _events("early", 30))
    await asyncio.sleep(0.05)
    since = datetime.now(UTC)
    await asyncio.sleep(0.05)
    late = _events("late", 20)
    await produce(downstream.infra.kafka_bootstrap, downstream.topic, late)
    await downstream.consume_until(engine, 50)

    assert await run(downstream.replay_args("--from-time", since.isoformat(), "--yes")) == 0

    after_reset = await committed_offsets(downstream.infra.kafka_bootstrap, downstream.group, downstream.topic)
    assert sum(after_reset.values()) == 30, "each partition skips exactly its records from before the time"
    expected: dict[str, int] = {}
    for account, _ in late:
        expected[account] = expected.get(account, 0) + 1
    assert await downstream.consume_until(engine, 20) == expected


async def test_replay_is_refused_while_the_service_runs_and_changes_nothing(
    downstream: Downstream, engine: AsyncEngine
) -> None:
    await produce(downstream.infra.kafka_bootstrap, downstream.topic, _events("r", 10))
    async with downstream.running():
        await wait_for(lambda: _counted(downstream, engine, 10), timeout=30, what="the service consuming")
        with pytest.raises(ReplayRefused, match="member"):
            await run(downstream.replay_args("--yes"))
        # Should an instance join after that check, the broker itself refuses the reset.
        beginning = {TopicPartition(downstream.topic, p): 0 for p in range(downstream.settings.topic_partitions)}
        with pytest.raises(ReplayRefused, match="broker refused"):
            await commit_group_offsets(downstream.infra.kafka_bootstrap, downstream.group, beginning)
        assert sum((await downstream.counts(engine)).values()) == 10
        assert await _processed(engine, downstream.schema) == 10
    committed = await committed_offsets(downstream.infra.kafka_bootstrap, downstream.group, downstream.topic)
    assert sum(committed.values()) == 10


async def test_without_yes_the_replay_only_shows_its_plan(
    downstream: Downstream, engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    await produce(downstream.infra.kafka_bootstrap, downstream.topic, _events("d", 10))
    await downstream.consume_until(engine, 10)
    assert await run(downstream.replay_args()) == 0
    shown = capsys.readouterr().out
    assert downstream.group in shown and downstream.topic in shown and "account_counts" in shown
    assert "nothing changed" in shown
    committed = await committed_offsets(downstream.infra.kafka_bootstrap, downstream.group, downstream.topic)
    assert sum(committed.values()) == 10 and sum((await downstream.counts(engine)).values()) == 10


async def test_a_service_without_a_replay_hook_is_refused(downstream: Downstream) -> None:
    with pytest.raises(ReplayRefused, match="replay_tables"):
        await run([downstream.name, "--hook", "tests.kafka_utils"])


async def test_the_canonical_topics_are_created_as_an_archive(downstream: Downstream) -> None:
    async with downstream.running():
        pass
    topics = downstream.settings.topics
    admin = AIOKafkaAdminClient(bootstrap_servers=downstream.infra.kafka_bootstrap)
    await admin.start()
    try:
        names = [topics.usage, topics.interaction, topics.contract, topics.raw, topics.dlq]
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    finally:
        await admin.close()
    configs = {
        resource[3]: {entry[0]: entry[1] for entry in resource[4]}
        for response in responses for resource in response.resources
    }
    for name in (topics.usage, topics.interaction, topics.contract):
        assert configs[name]["retention.ms"] == "-1" and configs[name]["max.message.bytes"] == str(2 << 20)
    assert configs[topics.raw]["max.message.bytes"] == str(2 << 20)
    assert configs[topics.dlq]["max.message.bytes"] == str(4 << 20)


async def _counted(downstream: Downstream, engine: AsyncEngine, n: int) -> bool:
    try:
        return sum((await downstream.counts(engine)).values()) >= n
    except sa.exc.ProgrammingError:
        return False
