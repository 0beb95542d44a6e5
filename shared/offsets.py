"""The consumer runner's offset commits: a batch's, after its transaction, and an idle loop's.

The offset last committed per owned partition is remembered, so an idle loop commits only what moved;
a rebalance forgets it (positions restart from the committed offsets).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

log = logging.getLogger(__name__)


class OffsetCommits:
    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self._committed: dict[TopicPartition, int] = {}

    def forget(self) -> None:
        self._committed.clear()

    async def commit_batch(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Commit the offsets after exactly `records`, for the partitions still owned."""
        next_offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            next_offsets[tp] = max(next_offsets.get(tp, 0), record.offset + 1)
        owned = self._consumer.assignment()
        offsets = {tp: OffsetAndMetadata(off, "") for tp, off in next_offsets.items() if tp in owned}
        if offsets:
            await self._consumer.commit(offsets)
            self._committed.update({tp: meta.offset for tp, meta in offsets.items()})

    async def commit_drained(self, held: set[TopicPartition]) -> None:
        """On an idle loop (under the batch lock), commit each owned partition's position where it
        passed the last offset committed and nothing of it is `held`. A transactional producer ends
        every transaction with a marker that takes an offset but is never handed over as a record:
        committing record offsets alone leaves a lag of one that every lag monitor (and anyone
        waiting for lag zero) reads as work not done. Nothing is skipped: with nothing held, every
        record before the position was processed."""
        moved: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp in self._consumer.assignment() - held:
            position = await self._consumer.position(tp)
            if tp not in self._committed:
                committed = await self._consumer.committed(tp)
                self._committed[tp] = committed if committed is not None else 0  # 0: nothing to say yet
            if position > self._committed[tp]:
                moved[tp] = OffsetAndMetadata(position, "")
        if moved:
            try:
                await self._consumer.commit(moved)
            except KafkaError as exc:  # a rebalance under way: the next idle loop tries again
                log.info("idle offset commit skipped", extra={"error": repr(exc)})
                return
            self._committed.update({tp: meta.offset for tp, meta in moved.items()})
