"""The expansion service's settings: the shared ones plus its port, schema, catalogue and the
trigger thresholds (each `ORCHARD_EXPANSION_<NAME>`; defaults in `Thresholds`)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field, field_validator

from services.expansion.domain import Thresholds
from services.expansion.domain.pipeline import stage_weights
from shared.settings import OrchardSettings

REPO = Path(__file__).resolve().parents[2]
_DEFAULTS = Thresholds()


class ExpansionSettings(OrchardSettings):
    """Built once in ``__main__`` (``ExpansionSettings()`` reads ``ORCHARD_*``) and passed down."""

    service_name: str = "expansion"
    expansion_port: int = Field(default=8004, ge=1, le=65535)
    """``ORCHARD_EXPANSION_PORT``."""
    expansion_schema: str = Field(default="expansion", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """``ORCHARD_EXPANSION_SCHEMA``: the Postgres schema this service owns (tests use a random one)."""
    catalogue: str = "deploy/catalogue.yaml"
    """``ORCHARD_CATALOGUE``: the product catalogue (YAML); a relative path is taken from the repo root."""

    expansion_seat_limit_ratio: float = Field(default=_DEFAULTS.seat_limit_ratio, gt=0, le=2)
    expansion_seat_headroom_ratio: float = Field(default=_DEFAULTS.seat_headroom_ratio, ge=0, le=2)
    expansion_premium_min_days: int = Field(default=_DEFAULTS.premium_min_days, ge=1, le=30)
    expansion_promoter_nps: int = Field(default=_DEFAULTS.promoter_nps, ge=0, le=10)
    expansion_promoter_csat: float = Field(default=_DEFAULTS.promoter_csat, ge=1, le=5)
    expansion_satisfaction_window_days: int = Field(default=_DEFAULTS.satisfaction_window_days, ge=1)
    expansion_healthy_active_ratio: float = Field(default=_DEFAULTS.healthy_active_ratio, ge=0, le=2)
    expansion_whitespace_min_fit: float = Field(default=_DEFAULTS.whitespace_min_fit, ge=0, le=1)
    expansion_cooldown_days: int = Field(default=_DEFAULTS.cooldown_days, ge=0)
    expansion_reraise_uplift_factor: Decimal = Field(default=_DEFAULTS.reraise_uplift_factor, ge=1)
    expansion_opportunity_ttl_days: int = Field(default=_DEFAULTS.opportunity_ttl_days, ge=1, le=3650)
    """An open opportunity with no progress (opened, or moved
    by a person) for this many days, in event time, is closed as lost by expiry."""

    expansion_divergence_window_days: int = Field(default=_DEFAULTS.divergence_window_days, ge=1, le=730)
    """revenue_health_divergence compares ARR and health now with their values this many days ago."""
    expansion_divergence_min_arr_change: Decimal = Field(default=_DEFAULTS.divergence_min_arr_change, gt=0, lt=1)
    """The share ARR must move by (per currency) for a divergence."""
    expansion_divergence_min_score_change: float = Field(default=_DEFAULTS.divergence_min_score_change, gt=0, le=100)
    """The health points the score must move by, the other way, for a divergence."""
    expansion_norms_check_s: float = Field(default=300.0, gt=0)
    """How often the service asks whether a new version of the cohort norms exists (another instance may
    have built it), and whether a refresh is due."""
    expansion_norms_refresh_s: float = Field(default=86_400.0, ge=0)
    """How often the cohort norms (where an account's usage and growth stand among accounts of the same
    segment and plan) are rebuilt from every account's state; 0 turns the refresh off (versions already
    stored are still used)."""
    expansion_norms_keep_days: int = Field(default=400, ge=1)
    """Norm versions no longer in force for this many days are dropped (a replay of that period still
    finds the versions it needs)."""
    expansion_usage_level: bool = _DEFAULTS.usage_level
    """false turns the usage_level trigger off (usage above most accounts of the same segment and plan)."""
    expansion_stage_weights: dict[str, Decimal] = Field(default_factory=dict)
    """JSON, e.g. ``{"open": 0.1, "qualified": 0.3, "proposed": 0.6}`` (the defaults): the share of an
    open opportunity's uplift the pipeline expects, per stage; stages
    left out keep their default."""

    @field_validator("expansion_stage_weights")
    @classmethod
    def _weights(cls, weights: dict[str, Decimal]) -> dict[str, Decimal]:
        return stage_weights(weights)

    @property
    def catalogue_path(self) -> Path:
        path = Path(self.catalogue)
        return path if path.is_absolute() else REPO / path

    def thresholds(self) -> Thresholds:
        return Thresholds(
            seat_limit_ratio=self.expansion_seat_limit_ratio,
            seat_headroom_ratio=self.expansion_seat_headroom_ratio,
            premium_min_days=self.expansion_premium_min_days,
            promoter_nps=self.expansion_promoter_nps,
            promoter_csat=self.expansion_promoter_csat,
            satisfaction_window_days=self.expansion_satisfaction_window_days,
            healthy_active_ratio=self.expansion_healthy_active_ratio,
            whitespace_min_fit=self.expansion_whitespace_min_fit,
            cooldown_days=self.expansion_cooldown_days,
            reraise_uplift_factor=self.expansion_reraise_uplift_factor,
            opportunity_ttl_days=self.expansion_opportunity_ttl_days,
            divergence_window_days=self.expansion_divergence_window_days,
            divergence_min_arr_change=self.expansion_divergence_min_arr_change,
            divergence_min_score_change=self.expansion_divergence_min_score_change,
            usage_level=self.expansion_usage_level,
        )
