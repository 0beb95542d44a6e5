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


class Holding(Generic[Record]):
    """Records fetched but not released yet, per partition in offset order, each with its sort time
    (read once). The consumer keeps them here instead of seeking back, so the fetcher goes on
    fetching the partitions a group waits for; a partition holding a full batch is paused instead."""

    def __init__(self, time_of: Callable[[Record], object], offset_of: Callable[[Record], int]) -> None:
        self._time_of = time_of
        self._offset_of = offset_of
        self._by_partition: dict[TopicPartition, list[tuple[object, Record]]] = {}

    def add(self, fetched: Mapping[TopicPartition, Sequence[Record]]) -> None:
        for tp, records in fetched.items():
            if records:
                self._by_partition.setdefault(tp, []).extend((self._time_of(r), r) for r in records)

    def count(self, tp: TopicPartition | None = None) -> int:
        if tp is not None:
            return len(self._by_partition.get(tp, ()))
        return sum(len(held) for held in self._by_partition.values())

    def partitions(self) -> set[TopicPartition]:
        return {tp for tp, held in self._by_partition.items() if held}

    def earliest(self, tp: TopicPartition) -> object | None:
        """The earliest sort time among `tp`'s held records (they are in offset order, not time order)."""
        return min((at for at, _ in self._by_partition.get(tp, ())), default=None)  # type: ignore[type-var]

    def first_offsets(self) -> dict[TopicPartition, int]:
        return {tp: self._offset_of(held[0][1]) for tp, held in self._by_partition.items() if held}

    def clear(self) -> None:
        self._by_partition.clear()

    def release(self, *, assigned: Iterable[TopicPartition], behind: Callable[[TopicPartition], bool],
                topic_rank: Mapping[str, int], limit: int) -> list[Record]:
        """Up to `limit` records in merge order (the heads of each partition, so what stays is merged
        the same way next time)."""
        aligned = align(self._by_partition, assigned=assigned, behind=behind, time_of=lambda entry: entry[0],
                        offset_of=lambda entry: self._offset_of(entry[1]), topic_rank=topic_rank)
        ready = aligned.ready[:limit]
        taken = {id(entry) for entry in ready}
        for tp in list(self._by_partition):
            held = self._by_partition[tp]
            cut = 0
            while cut < len(held) and id(held[cut]) in taken:
                cut += 1
            if cut:
                del held[:cut]
            if not held:
                del self._by_partition[tp]
        return [record for _, record in ready]
