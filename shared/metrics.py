"""Prometheus metrics shared by every service (one registry per process)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
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

# Ages run from well under a second (a live stream) to days (a backfill, the scheduler's midnights).
AGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86_400, 7 * 86_400)
EVENT_AGE = Histogram(
    "orchard_event_age_seconds",
    "Wall-clock seconds since an event's occurred_at, by stage: `applied` when a consumer's transaction "
    "that handled it committed (by input topic), `published` when the outbox relay's Kafka transaction "
    "carrying an output committed (by output topic). Live, it is the pipeline's latency; in a backfill, "
    "the age of the data. An occurred_at in the future counts as 0.",
    ["service", "stage", "topic"],
    buckets=AGE_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "orchard_consumer_lag",
    "Records waiting per owned partition: the broker's high watermark minus the consumer's position, as "
    "of the last fetch, set by the consumer runner after each batch and each idle poll. A partition "
    "handed to another instance is dropped from this instance's series.",
    ["service", "topic", "partition"],
)
ALERTS = Counter(
    "orchard_alerts_total",
    "churn_risk events published, by kind and action (raised, escalated, resolved), counted by the outbox "
    "relay once the Kafka transaction carrying them committed.",
    ["service", "kind", "action"],
)
UPSELL_TRIGGERS = Counter(
    "orchard_upsell_triggers_total",
    "upsell.triggered events published, by kind, counted by the outbox relay once the Kafka transaction "
    "carrying them committed.",
    ["service", "kind"],
)

RESCORE_PASSES = Counter(
    "orchard_health_rescore_passes_total",
    "Passes of health's scheduled rescore, by outcome: done; skipped (other instances held every partition "
    "group's lock); deferred (a backlog is still being read: now is ahead of the events); failed (retried next "
    "interval).",
    ["outcome"],
)
RESCORE_SECONDS = Histogram(
    "orchard_health_rescore_seconds",
    "Duration of a scheduled rescore pass that ran (outcome done).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
)
RESCORED = Counter(
    "orchard_health_rescored_total",
    "What scheduled rescore passes did: accounts brought forward, scores that changed, alert decisions made.",
    ["result"],
)
RESCORE_LAST_DONE = Gauge(
    "orchard_health_rescore_last_done_timestamp_seconds",
    "Unix time the last scheduled rescore pass of this instance completed (0 until one has).",
)


class TopicPartitionLike(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...


class RescoreCounts(Protocol):
    @property
    def accounts(self) -> int: ...
    @property
    def changed(self) -> int: ...
    @property
    def alerts(self) -> int: ...


def observe_applied(service: str, events: Iterable[tuple[str, datetime]]) -> None:
    """Event ages of (input topic, occurred_at) pairs whose transaction has just committed."""
    now = time.time()
    children: dict[str, Any] = {}
    for topic, occurred_at in events:
        child = children.get(topic)
        if child is None:
            child = children[topic] = EVENT_AGE.labels(service, "applied", topic)
        child.observe(max(0.0, now - occurred_at.timestamp()))


def observe_published(service: str, messages: Iterable[tuple[str, bytes]]) -> None:
    """Event ages and alert counts of (topic, JSON value) pairs a committed Kafka transaction carried.
    Values without an occurred_at (dead letters) have no event age."""
    now = time.time()
    for topic, value in messages:
        try:
            event = orjson.loads(value)
            occurred_at = datetime.fromisoformat(event["occurred_at"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
        age = now - (occurred_at if occurred_at.tzinfo else occurred_at.replace(tzinfo=UTC)).timestamp()
        EVENT_AGE.labels(service, "published", topic).observe(max(0.0, age))
        kind, _, action = str(event.get("type", "")).partition(".")
        if kind == "churn_risk":
            ALERTS.labels(service, str(event.get("kind")), str(event.get("action") or action)).inc()
        elif kind == "upsell":
            UPSELL_TRIGGERS.labels(service, str(event.get("kind"))).inc()


def set_lag(service: str, partition: TopicPartitionLike, lag: int) -> None:
    CONSUMER_LAG.labels(service, partition.topic, str(partition.partition)).set(lag)


def forget_lag(service: str, partitions: Iterable[TopicPartitionLike]) -> None:
    """Partitions this instance no longer owns: their lag is another instance's to report."""
    for tp in partitions:
        with contextlib.suppress(KeyError):
            CONSUMER_LAG.remove(service, tp.topic, str(tp.partition))


def record_rescore_pass(*, seconds: float, report: RescoreCounts | None) -> None:
    """A scheduled rescore pass that ran to its end (report None: other instances held every partition
    group's lock)."""
    if report is None:
        RESCORE_PASSES.labels("skipped").inc()
        return
    RESCORE_PASSES.labels("done").inc()
    RESCORE_SECONDS.observe(seconds)
    RESCORED.labels("accounts").inc(report.accounts)
    RESCORED.labels("changed").inc(report.changed)
    RESCORED.labels("alerts").inc(report.alerts)
    RESCORE_LAST_DONE.set_to_current_time()
