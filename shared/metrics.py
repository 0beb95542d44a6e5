"""Prometheus metrics shared by every service (one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "orchard_events_consumed_total",
    "Records taken from Kafka by the consumer runner, by outcome (applied, duplicate, dlq).",
    ["service", "topic", "outcome"],
)
BATCH_SECONDS = Histogram(
    "orchard_consumer_batch_seconds",
    "Time to apply one consumed batch in its database transaction.",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_RETRIES = Counter(
    "orchard_consumer_batch_retries_total",
    "Batches retried after an infrastructure error (database or Kafka unavailable).",
    ["service"],
)
HANDLER_ERRORS = Counter(
    "orchard_handler_errors_total",
    "Batches that failed on an error that is neither the data's fault nor an outage (a bug, or the "
    "dead-letter breaker tripping), by exception type: the partitions stop and retry until fixed. Alert on it.",
    ["service", "error"],
)
OUTBOX_PUBLISHED = Counter(
    "orchard_outbox_published_total", "Outbox rows published to Kafka.", ["service", "topic"]
)
OUTBOX_LAG = Gauge("orchard_outbox_pending", "Unpublished outbox rows seen by the last relay pass.", ["service"])
DLQ_WRITTEN = Counter(
    "orchard_dlq_total", "Messages sent to the dead-letter topic, by reason.", ["service", "reason"]
)
