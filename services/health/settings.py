"""The health service's settings: the shared ones plus its port, schema and re-evaluation schedule."""

from __future__ import annotations

from pydantic import Field

from shared.settings import OrchardSettings


class HealthSettings(OrchardSettings):
    """Built once in ``__main__`` (``HealthSettings()`` reads ``ORCHARD_*``) and passed down."""

    service_name: str = "health"
    health_port: int = Field(default=8002, ge=1, le=65535)
    """``ORCHARD_HEALTH_PORT``."""
    health_schema: str = Field(default="health", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """``ORCHARD_HEALTH_SCHEMA``: the Postgres schema this service owns (tests use a random one)."""
    health_rescore_interval_s: float = Field(default=3600.0, gt=0)
    """``ORCHARD_HEALTH_RESCORE_INTERVAL_S``: how often the scheduler runs, and how old a score may
    get before the scheduler rescores it at "now" (silence counts: no event is needed)."""
    health_rescore_chunk: int = Field(default=500, ge=1, le=10_000)
    """Accounts rescored per transaction by the scheduler and after a scorecard change."""
