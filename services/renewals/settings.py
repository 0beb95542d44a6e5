"""The renewals service's settings: the shared ones plus its port, schema, renewal window, reminder
windows, the scheduled pass and the forecast's history (each `ORCHARD_RENEWALS_<NAME>`)."""

from __future__ import annotations

from pydantic import Field, field_validator

from services.renewals.domain import DEFAULT_REMINDER_DAYS, DEFAULT_WINDOW_DAYS, JudgingRules
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
    renewals_reminder_days: tuple[int, ...] = Field(default=DEFAULT_REMINDER_DAYS, max_length=12)
    """``ORCHARD_RENEWALS_REMINDER_DAYS`` (JSON list, e.g. ``[120, 90, 60, 30]``): an open
    renewal_at_risk alert is raised again, as a reminder, when its renewal comes this close."""
    renewals_pass_interval_s: float = Field(default=300.0, gt=0)
    """``ORCHARD_RENEWALS_PASS_INTERVAL_S``: how often the scheduled pass looks for accounts due (a
    window opening, a reminder, a date passing: no event is needed). A pass with nothing due is one
    indexed query per partition group."""
    renewals_pass_chunk: int = Field(default=500, ge=1, le=10_000)
    """``ORCHARD_RENEWALS_PASS_CHUNK``: accounts judged per transaction by the scheduled pass."""
    renewals_midnight_grace_s: float = Field(default=900.0, ge=0, le=86_400)
    """``ORCHARD_RENEWALS_MIDNIGHT_GRACE_S``: a midnight is judged by the pass only this long after it,
    so events up to this late still land before it."""
    renewals_stream_quiet_s: float = Field(default=300.0, ge=0)
    """``ORCHARD_RENEWALS_STREAM_QUIET_S``: once this instance has read its partitions to the end and
    nothing new has come for this long, event time has caught up with the wall clock and the pass
    judges up to now; until then only up to the latest event time seen (a backfill is not today)."""
    renewals_forecast_min_closed: int = Field(default=20, ge=1)
    """``ORCHARD_RENEWALS_FORECAST_MIN_CLOSED``: a risk band's forecast probability is the book's own
    (the share of its closed renewals that renewed) once it has this many closed renewals, else the
    default."""

    @field_validator("renewals_reminder_days")
    @classmethod
    def _windows(cls, days: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 1 or d > 730 for d in days):
            raise ValueError("reminder windows are days before the renewal date, 1 to 730")
        return tuple(sorted(set(days), reverse=True))

    @property
    def judging_rules(self) -> JudgingRules:
        return JudgingRules(window_days=self.renewals_window_days, reminders=self.renewals_reminder_days)
