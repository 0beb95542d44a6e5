"""What the consumer runner has fetched and not yet handed to its handler.

Fetched records are held (``shared.alignment.Holding``) until the merge across topics releases them
in event time; a partition holding a batch's worth is paused so the fetcher spends its requests on
the partitions their groups wait for. The intake also answers what the runner needs to know about
the broker beyond what it holds: whether a partition has more there (the merge waits for it), and
whether a backlog of more than a batch waits (work that judges "now" waits for it). After a failed
batch it rewinds the consumer so everything is fetched again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared.alignment import Holding
from shared.metrics import set_lag

Fetched = Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]


class Intake:
    def __init__(self, consumer: AIOKafkaConsumer, *, service: str, topics: Sequence[str], max_records: int) -> None:
        self._consumer = consumer
        self._service = service
        self._max_records = max_records
        self._rank = {topic: n for n, topic in enumerate(topics)}
        self._held: Holding[ConsumerRecord[bytes, bytes]] = Holding(
            _event_time if len(topics) > 1 else _no_time, lambda r: r.offset)

    def add(self, fetched: Fetched) -> None:
        self._held.add(fetched)

    def held_partitions(self) -> set[TopicPartition]:
        return self._held.partitions()

    def clear(self) -> None:
        """Forget what is held: positions restart from the committed offsets (a rebalance)."""
        self._held.clear()

    def pause_full(self) -> None:
        """Partitions holding a batch's worth wait (paused) until the merge has used them, so the
        fetcher spends its requests on the partitions their groups are waiting for."""
        owned = self._consumer.assignment()
        full = {tp for tp in owned if self._held.count(tp) >= self._max_records}
        paused = self._consumer.paused() & owned
        if full - paused:
            self._consumer.pause(*(full - paused))
        if paused - full:
            self._consumer.resume(*(paused - full))

    async def release(self) -> list[ConsumerRecord[bytes, bytes]]:
        """The next batch: up to ``max_records`` held records merged across topics in event time
        (shared.alignment), each partition group up to where a partition with more on the broker
        has nothing held."""
        owned = self._consumer.assignment()
        behind = {tp for tp in owned if await self._more_on_broker(tp)}
        records = self._held.release(assigned=owned, behind=behind.__contains__, topic_rank=self._rank,
                                     limit=self._max_records)
        return [r for r in records if TopicPartition(r.topic, r.partition) in owned]

    async def _more_on_broker(self, tp: TopicPartition) -> bool:
        """Whether records of `tp` a read_committed consumer can get lie beyond what was fetched. The end
        is the last stable offset (the high watermark counts records of transactions still open);
        unknown until the first fetch answers, and then it counts as more."""
        end = self._consumer.last_stable_offset(tp)
        if end is None:
            end = self._consumer.highwater(tp)
        return end is None or end > await self._consumer.position(tp)

    async def behind(self, in_flight: Sequence[ConsumerRecord[bytes, bytes]] = ()) -> bool:
        """Whether more than one batch of records waits beyond what has been handed over (as of the
        broker's last fetch responses), or what waits is not known (no partition owned, or one not
        fetched yet); records each partition's lag on the way. A steady stream always has a few
        records waiting; a backlog is what matters. The lag is every record not yet committed, so it
        counts the batches `in_flight` (handed over, their offsets not committed) as well; whether the
        consumer is behind does not (they are on their way)."""
        owned = self._consumer.assignment()
        if not owned:
            # Not joined yet, or between a revoke and an assignment: whatever waits is unknown. Judged
            # caught up here, a restarted instance let the scheduler count silence from the last life's
            # watermarks while the backlog it had not read yet held older events of the same accounts.
            return True
        flying = Counter(TopicPartition(r.topic, r.partition) for r in in_flight)
        waiting = 0
        for tp in owned:
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                return True
            lag = max(0, highwater - await self._consumer.position(tp)) + self._held.count(tp)
            set_lag(self._service, tp, lag + flying[tp])
            waiting += lag
        return waiting > self._max_records

    async def settled(self, in_flight: Sequence[ConsumerRecord[bytes, bytes]]) -> dict[int, datetime | None]:
        """Per partition group this consumer owns whole and has fetched to the end of (nothing more on
        the broker for any of its partitions), the earliest event time still to be applied there: held
        or in the batch in flight (None: nothing). Groups with more on the broker are left out: what
        waits there is unknown, and may be older than the group's watermark (a backfill written
        account by account goes back in time at every account)."""
        groups: dict[int, list[TopicPartition]] = {}
        for tp in self._consumer.assignment():
            groups.setdefault(tp.partition, []).append(tp)
        settled: dict[int, datetime | None] = {}
        for group, members in groups.items():
            if [tp for tp in members if await self._more_on_broker(tp)]:
                continue
            keys = [key for tp in members if (key := self._held.earliest(tp)) is not None]
            keys += [_event_time(r) for r in in_flight if r.partition == group]
            settled[group] = min(_event_time_of(key) for key in keys) if keys else None
        return settled

    async def put_back(self, fetched: Fetched) -> None:
        """Fetched across a rebalance, not used: put each owned partition's position back to the first
        of these records. A fetch waiting when a rebalance starts returns the new assignment's records
        (the positions have moved past them), and dropping those would skip them for good; a fetch
        that returned before the rebalance left positions the new assignment reset to the committed
        offsets, which this never moves forward."""
        owned = self._consumer.assignment()
        for tp, offset in first_offsets([r for records in fetched.values() for r in records]).items():
            if tp in owned and offset < await self._consumer.position(tp):
                self._consumer.seek(tp, offset)

    def rewind(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Back to the failed batch's first records, and to the first held ones elsewhere: everything is
        fetched again (the held records too, so nothing is kept from before the failure)."""
        owned = self._consumer.assignment()
        starts = {**self._held.first_offsets(), **first_offsets(records)}
        self._held.clear()
        for tp, offset in starts.items():
            if tp in owned:
                self._consumer.seek(tp, offset)


def first_offsets(records: Sequence[ConsumerRecord[bytes, bytes]]) -> dict[TopicPartition, int]:
    """Per partition, the offset of the first of `records`."""
    firsts: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        firsts[tp] = min(firsts.get(tp, record.offset), record.offset)
    return firsts


def _no_time(record: ConsumerRecord[bytes, bytes]) -> int:
    """One topic: its partitions' orders are independent, offset order is all there is."""
    return 0


def _event_time(record: ConsumerRecord[bytes, bytes]) -> tuple[int, datetime]:
    """The record's event time, for the merge across topics; a record without a readable one goes
    first (it is dead-lettered when parsed, so where it stands does not matter)."""
    try:
        moment = orjson.loads(record.value or b"").get("occurred_at")
        at = datetime.fromisoformat(moment)
        return (1, at if at.tzinfo else at.replace(tzinfo=UTC))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return (0, _EPOCH)


_EPOCH = datetime.min.replace(tzinfo=UTC)


def _event_time_of(key: object) -> datetime:
    """The time in a held record's sort key (`_event_time`; a single topic's keys carry none)."""
    return key[1] if isinstance(key, tuple) else _EPOCH
