"""Rebuild a service's state from the canonical topics, the archive (kept forever, see kafka.py).

    python -m shared.replay health                       # show the plan, change nothing
    python -m shared.replay health --yes                 # rebuild from the beginning of the topics
    python -m shared.replay health --from-time 2026-09-01T00:00:00Z --yes

With every instance of the service stopped, a replay moves the service's consumer group
(``orchard-<service>``) to the earliest offset (or the first at or after ``--from-time``) of every
partition of the topics it consumes, and empties the service's ``processed_events`` and the tables
it derives from events. Started again, the service re-reads the archive and re-derives its state;
its output events have deterministic ids, so what it emits again is de-duplicated downstream.

The service names its derived tables: ``replay_tables(schema) -> Sequence[sa.Table]`` in its store
module (``--hook`` to use another module). Tables people edit (scorecards, stages, notes) are not
derived and must not be listed. Without the hook a service cannot be replayed.

Safety, in this order, in one database transaction: TRUNCATE (which waits for, and then blocks,
any instance still writing); refuse if the consumer group has members; commit the new offsets
(the broker refuses an outside commit while the group has members); COMMIT. A failure before the
offsets leaves everything as it was; a failure after them leaves the old state with every id in
``processed_events``, so the re-read is a no-op. Either way, running the replay again finishes it.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine, plumbing_tables, qualified
from shared.kafka import make_admin, partitions_of
from shared.settings import OrchardSettings


class ReplayRefused(Exception):
    """The replay cannot go ahead safely (service running, nothing to replay, no hook)."""


@dataclass(frozen=True)
class ReplayPlan:
    group: str
    targets: dict[TopicPartition, int]
    committed: dict[TopicPartition, int]
    tables: list[sa.Table]

    def describe(self) -> str:
        lines = [f"consumer group {self.group}: move to"]
        for tp in sorted(self.targets, key=lambda t: (t.topic, t.partition)):
            before = self.committed.get(tp)
            lines.append(f"  {tp.topic}[{tp.partition}]: {'-' if before is None else before} -> {self.targets[tp]}")
        lines.append("empty the tables: " + ", ".join(f"{t.schema}.{t.name}" for t in self.tables))
        return "\n".join(lines)


def group_for(service: str) -> str:
    """The consumer group of a service (``Runtime.consumer_runner``'s)."""
    return f"orchard-{service}"


def derived_tables(*, schema: str, hook_module: str) -> list[sa.Table]:
    """``processed_events`` and the tables the service says it derives from events."""
    try:
        module = importlib.import_module(hook_module)
    except ModuleNotFoundError as exc:
        raise ReplayRefused(f"no module {hook_module}: {exc}") from None
    hook = getattr(module, "replay_tables", None)
    if hook is None:
        raise ReplayRefused(f"{hook_module} has no replay_tables(schema): the service cannot be replayed")
    processed = plumbing_tables(sa.MetaData(schema=schema)).processed_events
    return [processed, *(t for t in hook(schema) if t.name != processed.name)]


async def plan_replay(
    *,
    bootstrap: str,
    group: str,
    tables: Sequence[sa.Table],
    topics: Sequence[str] = (),
    from_time: datetime | None = None,
    security: Mapping[str, Any] | None = None,
) -> ReplayPlan:
    """Where each partition goes: the topics given, else every topic the group has offsets on.
    `security`: ``KafkaSecurity.client_options()``."""
    committed = await _committed(bootstrap, group, security)
    wanted = list(topics) or sorted({tp.topic for tp in committed})
    if not wanted:
        raise ReplayRefused(f"consumer group {group} has no committed offsets: nothing to replay")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **(security or {}))
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in wanted for p in sorted(await _partitions(consumer, t))]
        if from_time is None:
            targets = dict(await consumer.beginning_offsets(partitions))
        else:
            found = await consumer.offsets_for_times({tp: int(from_time.timestamp() * 1000) for tp in partitions})
            ends = await consumer.end_offsets(partitions)
            targets = {tp: found[tp].offset if found[tp] is not None else ends[tp] for tp in partitions}
    finally:
        await consumer.stop()
    known = {tp: offset for tp, offset in committed.items() if tp in targets}
    return ReplayPlan(group=group, targets=targets, committed=known, tables=list(tables))


async def execute_replay(
    plan: ReplayPlan, *, bootstrap: str, engine: AsyncEngine, security: Mapping[str, Any] | None = None
) -> None:
    async with engine.begin() as conn:
        # Wait a little for a straggling transaction, not forever for a running service.
        await conn.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
        names = ", ".join(qualified(t) for t in plan.tables)
        await conn.execute(sa.text(f"TRUNCATE {names}"))
        await _refuse_if_active(bootstrap, plan.group, security)
        await commit_group_offsets(bootstrap, plan.group, plan.targets, security=security)


async def _committed(bootstrap: str, group: str, security: Mapping[str, Any] | None) -> dict[TopicPartition, int]:
    admin = make_admin(bootstrap, client_id="orchard-replay", security=security)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    partitions = await partitions_of(consumer, topic)
    if not partitions:
        raise ReplayRefused(f"topic {topic} does not exist")
    return partitions


async def _refuse_if_active(bootstrap: str, group: str, security: Mapping[str, Any] | None) -> None:
    admin = make_admin(bootstrap, client_id="orchard-replay", security=security)
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    for response in responses:
        for described in response.groups:
            state, members = described[2], described[5]
            if members:
                raise ReplayRefused(
                    f"consumer group {group} is {state} with {len(members)} member(s): stop every instance first"
                )


async def commit_group_offsets(
    bootstrap: str, group: str, targets: dict[TopicPartition, int], *, security: Mapping[str, Any] | None = None
) -> None:
    """Set a consumer group's offsets from outside the group: refused by the broker while it has members."""
    # A consumer that is assigned partitions (not subscribed) commits outside any generation;
    # the broker accepts that only while the group has no members.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                **(security or {}))
    await consumer.start()
    try:
        consumer.assign(list(targets))
        await consumer.commit({tp: OffsetAndMetadata(offset, "replay") for tp, offset in targets.items()})
    except CommitFailedError as exc:
        raise ReplayRefused(f"the broker refused the new offsets: consumer group {group} has members") from exc
    finally:
        await consumer.stop()


def _parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError("--from-time needs an offset, e.g. 2026-09-01T00:00:00Z")
    return parsed.astimezone(UTC)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m shared.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("service", help="the service to rebuild, e.g. health")
    parser.add_argument("--schema", help="its Postgres schema (default: the service name)")
    parser.add_argument("--group", help="its consumer group (default: orchard-<service>)")
    parser.add_argument("--topic", action="append", default=[], help="replay only this topic (repeatable)")
    parser.add_argument("--from-time", type=_parse_time, help="RFC 3339: start at the first record at/after it")
    parser.add_argument("--hook", help="module with replay_tables(schema) (default: services.<service>.store)")
    parser.add_argument("--yes", action="store_true", help="do it (without: print the plan only)")
    return parser.parse_args(argv)


async def run(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    settings = OrchardSettings()
    hook = args.hook or f"services.{args.service}.store"
    tables = derived_tables(schema=args.schema or args.service, hook_module=hook)
    plan = await plan_replay(
        bootstrap=settings.kafka_bootstrap,
        group=args.group or group_for(args.service),
        tables=tables,
        topics=args.topic,
        from_time=args.from_time,
        security=settings.kafka_security.client_options(),
    )
    print(plan.describe())
    if not args.yes:
        print("dry run: nothing changed (add --yes to replay)")
        return 0
    engine = create_engine(settings.database_dsn, pool_size=1, application_name="orchard-replay",
                           ssl=settings.database_tls.connect_ssl())
    try:
        await execute_replay(plan, bootstrap=settings.kafka_bootstrap, engine=engine,
                             security=settings.kafka_security.client_options())
    finally:
        await engine.dispose()
    print(f"replayed: start {args.service} again; it re-derives its state from the topics")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return asyncio.run(run(argv))
    except ReplayRefused as exc:
        print(f"replay refused: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
