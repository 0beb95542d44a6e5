"""Process settings: one frozen object per process, built in ``__main__`` and passed down.

Every variable is ``ORCHARD_*`` (see CONTRACT.md, "Running"). Nothing here is read at import time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import ApiKeys
from shared.fx import ExchangeRates, load_rates
from shared.tls import DatabaseTls, KafkaSecurity

DEFAULT_DATABASE_URL = "postgresql+asyncpg://orchard@127.0.0.1:5433/orchard"


class TopicSettings(BaseSettings):
    """Topic names: configurable, defaulting to the contract's names."""

    model_config = SettingsConfigDict(env_prefix="ORCHARD_TOPIC_", frozen=True)

    raw: str = "orchard.ingest.raw.v1"
    usage: str = "orchard.events.usage.v1"
    interaction: str = "orchard.events.interaction.v1"
    contract: str = "orchard.events.contract.v1"
    dlq: str = "orchard.events.dlq.v1"
    account_health: str = "orchard.account-health.v1"
    churn_risk: str = "orchard.alerts.churn-risk.v1"
    upsell: str = "orchard.signals.upsell.v1"
    # Internal: never written to; outbox relays commit their published position against it.
    outbox_progress: str = "orchard.internal.outbox-progress.v1"

    def canonical(self, kind: str) -> str:
        """The canonical topic for an event kind (``usage``, ``interaction``, ``contract``)."""
        return {"usage": self.usage, "interaction": self.interaction, "contract": self.contract}[kind]


class OrchardSettings(BaseSettings):
    """Settings every service shares; services subclass this to add their own."""

    # A refused value is not echoed: it may be a secret (an API key, a database password).
    model_config = SettingsConfigDict(env_prefix="ORCHARD_", frozen=True, extra="ignore", hide_input_in_errors=True)

    service_name: str = "orchard"
    kafka_bootstrap: str = "127.0.0.1:9092"
    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    db_pool_size: int = Field(default=10, ge=1)
    api_keys: ApiKeys = Field(default_factory=ApiKeys)
    """``ORCHARD_API_KEYS`` (see ``shared.auth``): none unless configured; an HTTP API refuses to start without."""
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication: int = Field(default=1, ge=1)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    kafka_security: KafkaSecurity = Field(default_factory=KafkaSecurity)
    """TLS and SASL towards Kafka (``ORCHARD_KAFKA_SECURITY_PROTOCOL`` ...; see ``shared.tls``)."""
    database_tls: DatabaseTls = Field(default_factory=DatabaseTls)
    """TLS towards PostgreSQL (``ORCHARD_DATABASE_SSL_MODE`` ...; see ``shared.tls``)."""

    consumer_max_records: int = Field(default=1000, ge=1, le=100_000)
    consumer_max_wait_ms: int = Field(default=200, ge=1)
    consumer_retry_backoff_max_s: float = Field(default=30.0, gt=0)
    # Group membership: an instance silent (no heartbeat) for the session timeout, or that has not
    # asked for records within the poll interval (a handler stuck that long), loses its partitions.
    consumer_session_timeout_ms: int = Field(default=30_000, ge=1_000)
    consumer_heartbeat_interval_ms: int = Field(default=3_000, ge=100)
    consumer_max_poll_interval_ms: int = Field(default=300_000, ge=1_000)
    # How much a consumer fetches ahead of its handler, in all and per partition (aiokafka's
    # fetch_max_bytes, max_partition_fetch_bytes): a consumer behind the log holds up to this much
    # of prefetched records (docs/performance.md, "Load held"). A record batch larger than the limit is
    # still fetched whole (the broker returns the first batch regardless), so a low value never stalls.
    consumer_fetch_max_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    consumer_max_partition_fetch_bytes: int = Field(default=4 * 1024 * 1024, ge=16 * 1024)
    # The dead-letter breaker (shared.rejection): a batch of at least min_batch records of which more
    # than this share would be dead-lettered stops the consumer instead (1.0: never).
    consumer_dlq_breaker_share: float = Field(default=0.5, gt=0, le=1)
    consumer_dlq_breaker_min_batch: int = Field(default=20, ge=1)
    outbox_batch_size: int = Field(default=1000, ge=1)
    outbox_idle_poll_s: float = Field(default=0.2, gt=0)

    # How long event ids are remembered in processed_events (shared.retention). Ingest forgets the ids
    # it accepted after ingest_dedupe_retention_days: a producer's re-send after that is new again.
    # Downstream services must remember longer: ingest's window plus a margin at least as long as a
    # downstream consumer may be down or behind (services/ingest/README.md says why; checked below).
    ingest_dedupe_retention_days: float = Field(default=30.0, gt=0)
    processed_events_retention_days: float = Field(default=37.0, gt=0)
    processed_events_margin_days: float = Field(default=7.0, ge=1)
    prune_interval_s: float = Field(default=600.0, gt=0)
    prune_batch_size: int = Field(default=10_000, ge=1)

    fx_rates: str = ""
    """The optional exchange-rate table (inline JSON or a YAML file path; see
    ``shared.fx``) for consolidated totals beside the per-currency ones (renewals, expansion)."""

    http_host: str = "127.0.0.1"
    log_level: str = "INFO"
    run_migrations_on_start: bool = True

    @model_validator(mode="after")
    def _heartbeats_fit_in_a_session(self) -> Self:
        if self.consumer_heartbeat_interval_ms * 3 > self.consumer_session_timeout_ms:
            raise ValueError(
                f"consumer_heartbeat_interval_ms ({self.consumer_heartbeat_interval_ms}) must be at most a third of "
                f"consumer_session_timeout_ms ({self.consumer_session_timeout_ms}): one late heartbeat would cost "
                "the instance its partitions")
        return self

    @model_validator(mode="after")
    def _downstream_remembers_longer_than_ingest(self) -> Self:
        needed = self.ingest_dedupe_retention_days + self.processed_events_margin_days
        if self.processed_events_retention_days < needed:
            raise ValueError(
                f"processed_events_retention_days ({self.processed_events_retention_days:g}) must be at least "
                f"ingest_dedupe_retention_days ({self.ingest_dedupe_retention_days:g}) plus "
                f"processed_events_margin_days ({self.processed_events_margin_days:g}) = {needed:g}: "
                "a downstream service that forgot an id ingest still de-duplicates could apply a redelivery twice"
            )
        return self

    @model_validator(mode="after")
    def _exchange_rates_readable(self) -> Self:
        load_rates(self.fx_rates)  # a bad table stops the process at start, saying what is wrong
        return self

    def exchange_rates(self) -> ExchangeRates | None:
        """The exchange-rate table, read now (build it once, at start)."""
        return load_rates(self.fx_rates)

    @property
    def processed_events_retention(self) -> timedelta:
        """How long this service remembers processed event ids (ingest overrides it)."""
        return timedelta(days=self.processed_events_retention_days)

    @property
    def database_dsn(self) -> str:
        return self.database_url.get_secret_value()
