"""The health service's settings: the shared ones plus its port, schema and re-evaluation schedule."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from shared.settings import OrchardSettings


class HealthSettings(OrchardSettings):
    """Built once in ``__main__`` (``HealthSettings()`` reads ``ORCHARD_*``) and passed down."""

    service_name: str = "health"
    health_port: int = Field(default=8002, ge=1, le=65535)
    """``ORCHARD_HEALTH_PORT``."""
    health_schema: str = Field(default="health", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """``ORCHARD_HEALTH_SCHEMA``: the Postgres schema this service owns (tests use a random one)."""
    health_rescore_interval_s: float = Field(default=300.0, gt=0)
    """``ORCHARD_HEALTH_RESCORE_INTERVAL_S``: how often the scheduler looks for accounts whose latest
    evaluation point is before the last midnight, and evaluates them there (silence counts: no event
    is needed). A pass with nothing due is one indexed query."""
    health_midnight_grace_s: float = Field(default=900.0, ge=0, le=86_400)
    """``ORCHARD_HEALTH_MIDNIGHT_GRACE_S``: a midnight is evaluated by the scheduler only this long
    after it, so events up to this late still land before it (a later one is scored at the account's
    latest point)."""
    health_stream_quiet_s: float = Field(default=300.0, ge=0)
    """``ORCHARD_HEALTH_STREAM_QUIET_S``: once this instance has read its partitions to the end and nothing
    new has come for this long, the stream has caught up with the wall clock: silence is counted up to
    now. Until then it is counted only up to the latest event seen (a burst of history being written,
    a backfill, is not silence)."""
    health_norms_refresh_s: float = Field(default=86_400.0, gt=0)
    """``ORCHARD_HEALTH_NORMS_REFRESH_S``: how often the scheduler rebuilds the cohort norms (where each
    account's usage stands among similar accounts) from every account's latest measures."""
    health_norms_keep_days: int = Field(default=400, ge=1)
    """Norm versions stay this long after they were replaced, so a replay of that far back scores each
    point with the version a live run had then."""
    health_rescore_chunk: int = Field(default=500, ge=1, le=10_000)
    """Accounts rescored per transaction by the scheduler and after a scorecard change."""
    health_timeline_retention_days: float = Field(default=400.0, gt=0)
    """``ORCHARD_HEALTH_TIMELINE_RETENTION_DAYS``: how long an account's timeline keeps its entries and
    daily usage roll-ups, in event time (pruned every ``ORCHARD_PRUNE_INTERVAL_S``). Score changes
    and alerts are read from their own tables and are not pruned with it."""

    health_backtest_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    """``ORCHARD_HEALTH_BACKTEST_MAX_BYTES``: the largest event history `POST /v1/backtest` takes (JSONL,
    gzip allowed; gzip a year of a few thousand accounts' daily telemetry to stay under it)."""
    health_backtest_timeout_s: float = Field(default=1800.0, gt=0)
    """``ORCHARD_HEALTH_BACKTEST_TIMEOUT_S``: a backtest that runs longer is stopped (504)."""

    @property
    def health_timeline_retention(self) -> timedelta:
        return timedelta(days=self.health_timeline_retention_days)
