"""Event-time alignment of co-partitioned topics: which of the fetched records to process now, and
in what order, so that the order does not depend on how fetches happened to interleave.

A service that reads several topics keyed by account (health reads usage, interaction and contract
events) sees one account's events on partition p of each topic. Fetches return whatever each
partition had ready, so a replay may hand over months of usage before the contract event that came
first. Processed in that order, the contract event would be late, and the scores in between would
differ from a live run's. As Kafka Streams does for the partitions of one task, the records of one
partition group (the same partition number on every input topic) are merged by event time, taking
each partition's records in offset order: the next record is the partition head with the earliest
time. While a partition of the group has nothing fetched but has more on the broker (it is
behind), its next record could come first, so the group stops there and the rest waits for the
next fetch. A partition that is caught up (nothing more on the broker) does not hold the others:
live, an event that arrives after later ones of another topic is late, and is scored as such.

With the whole history on the brokers (a replay, a restart after a backlog, a test) the order is
the same merge whatever the fetch sizes, so the outputs are too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from aiokafka import TopicPartition

Record = TypeVar("Record")
SortKey = tuple[object, ...]


@dataclass(frozen=True)
class Aligned(Generic[Record]):
    ready: list[Record]
    """The records to process now, merged in event-time order within each partition group."""
    held: dict[TopicPartition, int]
    """Per partition, the offset of its first record not released (to be fetched again)."""
    starving: set[TopicPartition]
    """Partitions that held their group back: behind, with nothing fetched."""


def align(
    fetched: Mapping[TopicPartition, Sequence[Record]],
    *,
    assigned: Iterable[TopicPartition],
    behind: Callable[[TopicPartition], bool],
    time_of: Callable[[Record], object],
    offset_of: Callable[[Record], int],
    topic_rank: Mapping[str, int],
) -> Aligned[Record]:
    """Merge each partition group's fetched records by (event time, topic rank), each partition in
    offset order, up to the first point where a behind partition of the group has nothing fetched."""
    groups: dict[int, list[TopicPartition]] = {}
    for tp in {*assigned, *fetched}:
        groups.setdefault(tp.partition, []).append(tp)
    ready: list[Record] = []
    held: dict[TopicPartition, int] = {}
    starving: set[TopicPartition] = set()
    for partition in sorted(groups):
        members = sorted(groups[partition], key=lambda tp: (topic_rank.get(tp.topic, len(topic_rank)), tp.topic))
        position = {tp: 0 for tp in members}
        while True:
            heads: list[tuple[SortKey, TopicPartition]] = []
            blocked = False
            for rank, tp in enumerate(members):
                records = fetched.get(tp, ())
                if position[tp] < len(records):
                    heads.append(((time_of(records[position[tp]]), rank), tp))
                elif behind(tp):
                    starving.add(tp)
                    blocked = True
            if blocked or not heads:
                break
            _, tp = min(heads, key=lambda head: head[0])
            ready.append(fetched[tp][position[tp]])
            position[tp] += 1
        for tp in members:
            records = fetched.get(tp, ())
            if position[tp] < len(records):
                held[tp] = offset_of(records[position[tp]])
    return Aligned(ready, held, starving)
