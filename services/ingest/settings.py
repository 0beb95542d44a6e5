"""Ingest's settings: the shared ones plus the request limits and the skew rule; its dedupe window
is the shared ``ingest_dedupe_retention_days``, since downstream services' windows are checked
against it.

Ingest's own variables are ``ORCHARD_INGEST_*`` (the field names carry the ``ingest_`` prefix, so
the shared ``ORCHARD_`` prefix maps them one to one, e.g. ``ORCHARD_INGEST_PORT``).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from shared.events import DEFAULT_MAX_BYTES
from shared.settings import OrchardSettings


class IngestSettings(OrchardSettings):
    service_name: str = "ingest"

    ingest_port: int = Field(default=8001, ge=1, le=65535)
    ingest_schema: str = Field(default="ingest", pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    # The contract's limits: a POST /v1/events body, and one event (an HTTP item or a raw record).
    ingest_max_events_per_request: int = Field(default=1000, ge=1)
    ingest_max_body_bytes: int = Field(default=DEFAULT_MAX_BYTES, ge=1024)
    ingest_max_event_bytes: int = Field(default=DEFAULT_MAX_BYTES, ge=1024)

    ingest_max_future_skew_s: float = Field(default=300.0, ge=0)
    # A reply waits for Kafka's acks at most this long; then the request fails with 503.
    ingest_produce_timeout_s: float = Field(default=10.0, gt=0)

    @property
    def max_future_skew(self) -> timedelta:
        return timedelta(seconds=self.ingest_max_future_skew_s)

    @property
    def processed_events_retention(self) -> timedelta:
        """Ingest's processed_events is its dedupe record: ids accepted longer ago than the dedupe
        window (``ORCHARD_INGEST_DEDUPE_RETENTION_DAYS``, a shared setting) are forgotten."""
        return timedelta(days=self.ingest_dedupe_retention_days)
