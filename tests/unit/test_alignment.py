"""Event-time alignment of co-partitioned topics: the merged order does not depend on fetch sizes."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from aiokafka import TopicPartition

from shared.alignment import align

pytestmark = pytest.mark.unit

TOPICS = {"usage": 0, "interaction": 1, "contract": 2}


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int
    time: int


def _stream(seed: int) -> dict[TopicPartition, list[Rec]]:
    """Three topics x two partitions; each partition mostly in time order, with a few late records."""
    rng = random.Random(seed)
    out: dict[TopicPartition, list[Rec]] = {}
    for topic, density in (("usage", 60), ("interaction", 8), ("contract", 2)):
        for partition in (0, 1):
            times = sorted(rng.randrange(1000) for _ in range(density))
            for i in range(len(times) - 1):
                if rng.random() < 0.1:
                    times[i], times[i + 1] = times[i + 1], times[i]
            out[TopicPartition(topic, partition)] = [Rec(topic, partition, n, t) for n, t in enumerate(times)]
    return out


def _consume(stream: dict[TopicPartition, list[Rec]], seed: int, max_fetch: int) -> list[Rec]:
    """Simulate a consumer: each round fetches a random number of records (at most max_fetch) from
    random partitions, aligns, processes what is ready and fetches the held ones again."""
    rng = random.Random(seed)
    position = {tp: 0 for tp in stream}
    processed: list[Rec] = []
    for _ in range(100_000):
        if all(position[tp] == len(stream[tp]) for tp in stream):
            return processed
        fetched = {}
        for tp in stream:
            if rng.random() < 0.6:
                n = rng.randint(1, max_fetch)
                records = stream[tp][position[tp]:position[tp] + n]
                if records:
                    fetched[tp] = records
                    position[tp] += len(records)
        aligned = align(fetched, assigned=stream, behind=lambda tp: position[tp] < len(stream[tp]),
                        time_of=lambda r: r.time, offset_of=lambda r: r.offset, topic_rank=TOPICS)
        processed.extend(aligned.ready)
        for tp, offset in aligned.held.items():
            position[tp] = offset  # seek back: fetched again next round
    raise AssertionError("did not finish")


@pytest.mark.parametrize("seed", range(5))
def test_the_processing_order_is_the_same_whatever_the_fetch_sizes(seed: int) -> None:
    stream = _stream(seed)
    orders = [_consume(stream, seed * 10 + run, max_fetch) for run, max_fetch in enumerate((1, 7, 1000))]
    for group in (0, 1):  # groups are independent (other accounts): only the order within one matters
        within = [[r for r in order if r.partition == group] for order in orders]
        assert within[0] == within[1] == within[2]
    assert sorted(orders[0], key=lambda r: (r.topic, r.partition, r.offset)) == sorted(
        (r for records in stream.values() for r in records), key=lambda r: (r.topic, r.partition, r.offset))
    for tp, records in stream.items():
        assert [r for r in orders[0] if (r.topic, r.partition) == (tp.topic, tp.partition)] == records, \
            "each partition keeps its offset order"


def test_a_group_waits_for_a_behind_partition_with_nothing_fetched_but_not_for_a_caught_up_one() -> None:
    usage, contract = TopicPartition("usage", 0), TopicPartition("contract", 0)
    fetched = {usage: [Rec("usage", 0, 0, 5), Rec("usage", 0, 1, 9)]}
    waiting = align(fetched, assigned=[usage, contract], behind=lambda tp: tp == contract,
                    time_of=lambda r: r.time, offset_of=lambda r: r.offset, topic_rank=TOPICS)
    assert waiting.ready == [] and waiting.held == {usage: 0} and waiting.starving == {contract}
    live = align(fetched, assigned=[usage, contract], behind=lambda tp: False,
                 time_of=lambda r: r.time, offset_of=lambda r: r.offset, topic_rank=TOPICS)
    assert live.ready == fetched[usage] and live.held == {} and live.starving == set()


def test_ties_in_time_go_by_topic_rank_and_groups_do_not_wait_for_each_other() -> None:
    u0, c0, u1 = TopicPartition("usage", 0), TopicPartition("contract", 0), TopicPartition("usage", 1)
    fetched = {u0: [Rec("usage", 0, 0, 3)], c0: [Rec("contract", 0, 0, 3)], u1: [Rec("usage", 1, 0, 1)]}
    aligned = align(fetched, assigned=[u0, c0, u1, TopicPartition("contract", 1)],
                    behind=lambda tp: tp == TopicPartition("contract", 1),
                    time_of=lambda r: r.time, offset_of=lambda r: r.offset, topic_rank=TOPICS)
    assert aligned.ready == [fetched[u0][0], fetched[c0][0]]
    assert aligned.held == {u1: 0}
