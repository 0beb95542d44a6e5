"""The trigger rules' thresholds: one frozen value, built by the shell from settings."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.expansion.domain.divergence import DivergenceRules


@dataclass(frozen=True)
class Thresholds:
    seat_limit_ratio: float = 0.9
    """seat_limit fires when active users (30 days) reach this share of licensed seats."""
    seat_headroom_ratio: float = 0.1
    """Seats proposed beyond the gap: at least this share of the current seats (and at least 1)."""
    premium_min_days: int = 3
    """premium_feature_use fires when a product's premium feature was used on this many of the last 30 days."""
    promoter_nps: int = 9
    promoter_csat: float = 4.5
    satisfaction_window_days: int = 90
    """A survey answer counts as "recent" for this many days."""
    healthy_active_ratio: float = 0.85
    """Adoption that makes a promoter a growth signal (high_satisfaction) and adds to whitespace fit."""
    healthy_usage_ratio: float = 1.0
    """Where active users cannot be counted (no user ids, or no seats), healthy adoption is usage volume
    at this share of its own baseline or above: 1.0 is "not falling" (`Snapshot.healthy_adoption`)."""
    whitespace_min_fit: float = 0.7
    """A whitespace product becomes a trigger (not just a list entry) at this fit or above."""
    usage_growth_ratio: float = 1.3
    """usage_growth fires when the last 30 days' volume is this many times the baseline (median of
    the features' ratios, each feature against its own previous 60 days)."""
    usage_growth_min_baseline_days: int = 20
    """A feature has a baseline once used on this many of the 60 days before the last 30."""
    cohort_min_accounts: int = 10
    """Cohort percentiles are used once the cohort (segment and plan) has this many accounts with a baseline."""
    cohort_min_percentile: float = 0.75
    """... and then usage_growth fires only when the account grows faster than this share of its cohort
    (so growth the whole book shares, a season, is not a signal about one account)."""
    usage_level_percentile: float = 0.75
    """usage_level fires when the account's usage level (median over features of its percentile in its
    cohort, `CohortNorms.level`) reaches this share of the cohort (of `cohort_min_accounts` or more):
    the top quarter, the same bar as `cohort_min_percentile`."""
    usage_level: bool = True
    """False: usage_level never fires (the other rules still read the cohort norms)."""
    plan_limit_ratio: float = 0.9
    """plan_limit fires when the last 30 days of a limited feature reach this share of what the plan includes."""
    cooldown_days: int = 90
    """A closed (won, lost, dismissed) opportunity is not raised again for this long ..."""
    reraise_uplift_factor: Decimal = Decimal("1.5")
    """... unless the signal clearly strengthened: its estimated uplift is this many times the closed one's."""
    divergence_window_days: int = 90
    """revenue_health_divergence compares ARR and health now with this many days ago (`divergence`) ..."""
    divergence_min_arr_change: Decimal = Decimal("0.10")
    """... and fires when ARR moved by this share or more (per currency) ..."""
    divergence_min_score_change: float = 15.0
    """... while health moved this many points or more the other way."""
    opportunity_ttl_days: int = 90
    """An open opportunity that has not moved forward (opened, or a stage move by a person) for this
    long is closed as lost, by expiry (`closing`)."""

    def __post_init__(self) -> None:
        for name in ("seat_limit_ratio", "seat_headroom_ratio", "healthy_active_ratio", "whitespace_min_fit",
                     "plan_limit_ratio", "cohort_min_percentile", "healthy_usage_ratio"):
            if not 0 <= getattr(self, name) <= 2:
                raise ValueError(f"{name} must be between 0 and 2, got {getattr(self, name)}")
        if self.premium_min_days < 1 or self.cooldown_days < 0 or self.satisfaction_window_days < 1:
            raise ValueError("premium_min_days and satisfaction_window_days must be >= 1, cooldown_days >= 0")
        if not 0 <= self.promoter_nps <= 10 or not 1 <= self.promoter_csat <= 5:
            raise ValueError("promoter_nps must be 0-10 and promoter_csat 1-5")
        if self.usage_growth_ratio <= 1 or not 1 <= self.usage_growth_min_baseline_days <= 60:
            raise ValueError("usage_growth_ratio must be > 1 and usage_growth_min_baseline_days 1-60")
        if not 0 < self.usage_level_percentile <= 1:
            raise ValueError("usage_level_percentile must be in (0, 1]")
        if self.cohort_min_accounts < 2:
            raise ValueError("cohort_min_accounts must be >= 2")
        if self.divergence_window_days < 1 or not 0 < self.divergence_min_arr_change < 1 \
                or not 0 < self.divergence_min_score_change <= 100:
            raise ValueError("divergence_window_days must be >= 1, divergence_min_arr_change in (0, 1) and "
                             "divergence_min_score_change in (0, 100]")
        if self.opportunity_ttl_days < 1:
            raise ValueError("opportunity_ttl_days must be >= 1")
        if self.reraise_uplift_factor < 1:
            raise ValueError("reraise_uplift_factor must be >= 1")

    @property
    def divergence_rules(self) -> DivergenceRules:
        return DivergenceRules(self.divergence_window_days, self.divergence_min_arr_change,
                               self.divergence_min_score_change)
