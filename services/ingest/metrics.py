"""Ingest's Prometheus metrics. ``path`` is ``http`` or ``kafka`` (the raw topic).

On the Kafka path the runner's ``orchard_events_consumed_total{service="ingest"}`` counts the
duplicates and dead letters once their transaction commits; the series here add what only
ingest knows (routing per topic, rejection reasons, the HTTP path's produce latency).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ACCEPTED = Counter(
    "orchard_ingest_accepted_total",
    "Events accepted and routed to a canonical topic (first occurrence of their id).",
    ["path", "topic"],
)
DUPLICATES = Counter(
    "orchard_ingest_duplicates_total",
    "Events whose id had already been accepted (by either path, or earlier in the same request).",
    ["path"],
)
REJECTED = Counter(
    "orchard_ingest_rejected_total",
    "Events rejected by validation, by reason (the first field error's type). On the Kafka path each "
    "goes to the DLQ; a batch retried after an outage is counted again.",
    ["path", "reason"],
)
REQUESTS_REFUSED = Counter(
    "orchard_ingest_requests_refused_total",
    "POST /v1/events requests refused as a whole (body too large, too many events, bad JSON, Kafka down).",
    ["reason"],
)
PRODUCE_SECONDS = Histogram(
    "orchard_ingest_produce_seconds",
    "From the first send of a request's events to the last acknowledgement (acks=all).",
    ["path"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
