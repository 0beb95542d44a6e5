"""The producers Orchard builds keep metadata for their own topics only.

aiokafka's client refreshes metadata every five minutes for the topics it tracks, and a client that
tracks none asks for every topic on the cluster. A producer tracks a topic only once it has sent to
it, so the services' producers that seldom or never send (the runtime's, the outbox relay of a quiet
service) held the metadata of every topic on the broker (shared.kafka.Producer says why that mattered).
"""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer

from shared.kafka import make_producer
from tests.conftest import new_unique
from tests.infra import Infra
from tests.kafka_utils import create_topic

pytestmark = pytest.mark.integration


async def test_a_producer_that_has_not_sent_knows_only_its_own_topics(infra: Infra) -> None:
    own, other = f"clients.own.{new_unique()}", f"clients.other.{new_unique()}"
    await create_topic(infra.kafka_bootstrap, own)
    await create_topic(infra.kafka_bootstrap, other)
    bare = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    producer = make_producer(infra.kafka_bootstrap, client_id="orchard-test", topics=[own])
    await bare.start()
    await producer.start()
    try:
        for client in (bare.client, producer.client):
            assert await client.force_metadata_update()  # what the five-minute refresh does
        # The behaviour the fix works around: aiokafka's own producer, before its first send.
        assert other in bare.client.cluster.topics()
        assert producer.client.cluster.topics() == {own}
        assert await producer.broker_reachable()
        await producer.send_and_wait(f"{own}", b"x")
        assert producer.client.cluster.topics() == {own}
    finally:
        await producer.stop()
        await bare.stop()
