"""The renewals service's settings: the shared ones plus its port, schema and renewal window
(each `ORCHARD_RENEWALS_<NAME>`)."""

from __future__ import annotations

from pydantic import Field

from services.renewals.domain import DEFAULT_WINDOW_DAYS
from shared.settings import OrchardSettings


class RenewalsSettings(OrchardSettings):
    """Built once in ``__main__`` (``RenewalsSettings()`` reads ``ORCHARD_*``) and passed down."""

    service_name: str = "renewals"
    renewals_port: int = Field(default=8003, ge=1, le=65535)
    """``ORCHARD_RENEWALS_PORT``."""
    renewals_schema: str = Field(default="renewals", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """``ORCHARD_RENEWALS_SCHEMA``: the Postgres schema this service owns (tests use a random one)."""
    renewals_window_days: int = Field(default=DEFAULT_WINDOW_DAYS, ge=1, le=730)
    """``ORCHARD_RENEWALS_WINDOW_DAYS``: a renewal opens this many days before its end date."""
