"""Kafka clients with safe defaults, and topic creation.

aiokafka's defaults are weaker than the Java client's (acks=1, no idempotence, auto-commit on);
every client in Orchard is built here so those choices are made once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import TopicAlreadyExistsError

from shared.settings import TopicSettings

log = logging.getLogger(__name__)

MIB = 1024 * 1024
COMPACTED = {"cleanup.policy": "compact"}
# The canonical topics are the archive every service can be rebuilt from (shared/replay.py).
ARCHIVE = {"retention.ms": "-1", "retention.bytes": "-1"}
# The contract allows 1 MiB events; with key, headers and batch framing that is over the broker's
# default limit (1 MiB + 12 bytes), so topics of events get room to spare.
EVENT_RECORDS = {"max.message.bytes": str(2 * MIB)}
# A dead letter carries an event of up to 2 MiB (base64, 4/3 of it) plus its context.
DEAD_LETTER_RECORDS = {"max.message.bytes": str(4 * MIB)}


class Producer(AIOKafkaProducer):  # type: ignore[misc]  # aiokafka ships no type information
    """An aiokafka producer whose metadata covers only the topics it sends to.

    aiokafka's client refreshes its metadata every ``metadata_max_age_ms`` (5 minutes) for the topics
    it tracks, and a client that tracks none asks for every topic on the cluster (``MetadataRequest``
    with no topic list). A producer tracks a topic from its first send on, so one that has not sent yet
    (the DLQ producer of a healthy stream, the outbox relay of a service with nothing to publish) held
    and re-parsed the metadata of every topic on the broker (thousands on a shared or test broker:
    megabytes each time). Telling the client its topics at start keeps it to those."""

    def __init__(self, *, topics: Iterable[str] = (), **options: Any) -> None:
        super().__init__(**options)
        self._known_topics = sorted(set(topics))

    async def start(self) -> None:
        await super().start()
        if self._known_topics:
            await self.client.set_topics(self._known_topics)

    async def broker_reachable(self) -> bool:
        """A real metadata round trip (cached metadata would say yes with the broker gone), for this
        producer's topics only: a readiness probe every few seconds need not fetch the whole cluster's."""
        return bool(await self.client.force_metadata_update())


def make_producer(
    bootstrap: str, *, client_id: str, linger_ms: int = 5, transactional_id: str | None = None,
    security: Mapping[str, Any] | None = None, topics: Iterable[str] = (),
) -> Producer:
    """`security`: ``KafkaSecurity.client_options()`` (TLS, SASL), for every client alike. `topics`: those
    it will send to (more may be added by sending), so that its metadata never covers the whole cluster."""
    return Producer(
        topics=topics,
        bootstrap_servers=bootstrap,
        client_id=client_id,
        **(security or {}),
        # Set for the outbox relay: its batches are Kafka transactions, a new leader fences an old one.
        transactional_id=transactional_id,
        # acks=all: a send completes only when every in-sync replica has the record.
        acks="all",
        # Idempotence: broker-side de-duplication of producer retries, ordered per partition.
        enable_idempotence=True,
        linger_ms=linger_ms,
        max_batch_size=512 * 1024,
        max_request_size=4 * MIB,
        request_timeout_ms=30_000,
    )


def make_consumer(
    bootstrap: str, *, group_id: str, client_id: str, max_records: int = 1000,
    security: Mapping[str, Any] | None = None, session_timeout_ms: int = 30_000, heartbeat_interval_ms: int = 3_000,
    max_poll_interval_ms: int = 300_000, fetch_max_bytes: int = 16 * MIB, max_partition_fetch_bytes: int = 4 * MIB,
) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        **(security or {}),
        # Manual commits only: offsets move after the batch's DB transaction is durable.
        enable_auto_commit=False,
        # A new group starts at the beginning: nothing already on the topic is skipped.
        auto_offset_reset="earliest",
        # Skip records of aborted Kafka transactions written by any producer.
        isolation_level="read_committed",
        # Prefetch bounds (ORCHARD_CONSUMER_FETCH_MAX_BYTES, _MAX_PARTITION_FETCH_BYTES): memory a lagging
        # consumer holds ahead of its handler.
        max_partition_fetch_bytes=max_partition_fetch_bytes,
        fetch_max_bytes=fetch_max_bytes,
        max_poll_records=max_records,
        # Range: partition p of every subscribed topic goes to the same instance, so one instance sees
        # all of an account's events and can merge its topics in event time (shared.alignment).
        partition_assignment_strategy=(RangePartitionAssignor,),
        max_poll_interval_ms=max_poll_interval_ms,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=heartbeat_interval_ms,
    )


def make_admin(bootstrap: str, *, client_id: str, security: Mapping[str, Any] | None = None) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id, **(security or {}))


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """The topic's partitions, asking the broker when the client's metadata does not know the topic
    yet; empty when the topic does not exist."""
    partitions = consumer.partitions_for_topic(topic)
    if partitions is None:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic)
    return set(partitions or ())


def topic_configs(topics: TopicSettings) -> dict[str, dict[str, str]]:
    """The configs a service gives the topics it creates (existing topics are left as they are)."""
    archive = {**ARCHIVE, **EVENT_RECORDS}
    return {
        # Oversized events still reach ingest, which dead-letters them with the reason.
        topics.raw: EVENT_RECORDS,
        topics.usage: archive,
        topics.interaction: archive,
        topics.contract: archive,
        topics.dlq: DEAD_LETTER_RECORDS,
        topics.account_health: COMPACTED,
    }


async def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    *,
    partitions: int,
    replication: int = 1,
    configs: Mapping[str, Mapping[str, str]] | None = None,
    security: Mapping[str, Any] | None = None,
) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are."""
    admin = make_admin(bootstrap, client_id="orchard-admin", security=security)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=name,
                num_partitions=partitions,
                replication_factor=replication,
                topic_configs=dict((configs or {}).get(name, {})),
            )
            for name in dict.fromkeys(names)
            if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # another instance won the race
                await admin.create_topics(wanted)
            log.info("created topics", extra={"topics": [t.name for t in wanted]})
    finally:
        await admin.close()
