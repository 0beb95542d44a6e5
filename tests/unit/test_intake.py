"""The runner's "caught up" judgement (shared.intake.Intake.behind): work that judges "now" (the health
and renewals passes) runs only once the runner knows that at most a batch waits. A stand-in consumer
answers the few questions the intake asks (a unit test: no broker)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from aiokafka import TopicPartition

from shared.intake import Intake

pytestmark = pytest.mark.unit

USAGE, CONTRACT = TopicPartition("usage", 0), TopicPartition("contract", 0)


@dataclass
class StandInConsumer:
    owned: set[TopicPartition] = field(default_factory=set)
    ends: dict[TopicPartition, int] = field(default_factory=dict)
    positions: dict[TopicPartition, int] = field(default_factory=dict)

    def assignment(self) -> set[TopicPartition]:
        return set(self.owned)

    stable: dict[TopicPartition, int] = field(default_factory=dict)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.ends.get(tp)

    def last_stable_offset(self, tp: TopicPartition) -> int | None:
        return self.stable.get(tp)

    async def position(self, tp: TopicPartition) -> int:
        return self.positions.get(tp, 0)


def _intake(consumer: StandInConsumer, max_records: int = 100) -> Intake:
    return Intake(consumer, service="unit-intake", topics=["usage", "contract"], max_records=max_records)  # type: ignore[arg-type]


async def test_nothing_owned_is_not_caught_up() -> None:
    """Before the group is joined, or between a revoke and an assignment, what waits is unknown: a
    restarted instance judged caught up there let a pass count silence from its last life's
    watermarks while the backlog held older events of the same accounts."""
    assert await _intake(StandInConsumer()).behind()


async def test_a_partition_not_heard_from_yet_is_not_caught_up() -> None:
    consumer = StandInConsumer(owned={USAGE, CONTRACT}, ends={USAGE: 10}, positions={USAGE: 10})
    assert await _intake(consumer).behind()


async def test_at_most_a_batch_waiting_is_caught_up_and_more_is_not() -> None:
    consumer = StandInConsumer(owned={USAGE, CONTRACT}, ends={USAGE: 150, CONTRACT: 40},
                               positions={USAGE: 100, CONTRACT: 0})
    assert not await _intake(consumer, max_records=90).behind(), "50 + 40 waiting, a batch is 90"
    assert await _intake(consumer, max_records=89).behind()


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes


def _record(tp: TopicPartition, offset: int, at: str) -> Record:
    return Record(tp.topic, tp.partition, offset, b'{"occurred_at": "%s"}' % at.encode())


async def test_settled_groups_are_read_to_the_end_with_the_earliest_event_still_to_apply() -> None:
    usage1, contract1 = TopicPartition("usage", 1), TopicPartition("contract", 1)
    consumer = StandInConsumer(owned={USAGE, CONTRACT, usage1, contract1},
                               ends={USAGE: 10, CONTRACT: 4, usage1: 9, contract1: 3},
                               positions={USAGE: 10, CONTRACT: 4, usage1: 7, contract1: 3})
    consumer.stable = dict(consumer.ends)
    intake = _intake(consumer)
    # Held (fetched, not released yet) in offset order: the later one first, as a backfill has them.
    intake.add({USAGE: [_record(USAGE, 8, "2025-03-02T00:00:00+00:00"),  # type: ignore[list-item]
                        _record(USAGE, 9, "2025-01-15T08:00:00+00:00")]})
    in_flight = [_record(CONTRACT, 3, "2025-02-01T00:00:00+00:00")]
    settled = await intake.settled(in_flight)  # type: ignore[arg-type]
    assert settled == {0: datetime(2025, 1, 15, 8, tzinfo=UTC)}, "group 1's usage has 2 more on the broker"
    assert await intake.settled([]) == {0: datetime(2025, 1, 15, 8, tzinfo=UTC)}
    consumer.positions[usage1] = 9
    assert (await intake.settled([]))[1] is None, "group 1 read to the end, nothing waiting"
