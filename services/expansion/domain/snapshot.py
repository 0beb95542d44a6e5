"""What the rules look at, computed once per account and `as_of` from its signals: seats, owned
products, active users, recent satisfaction. Every rule reads this, never the raw signals' clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from services.expansion.domain.cohorts import cohort_key
from services.expansion.domain.signals import ExpansionSignals, Survey
from services.expansion.domain.thresholds import Thresholds
from services.expansion.domain.usage import FeatureGrowth, account_growth, feature_growth
from shared.days import day_number

CENTS = Decimal("0.01")


@dataclass(frozen=True)
class Satisfaction:
    kind: str  # "nps" or "csat"
    survey: Survey
    strength: float
    """0..1: how far above the promoter threshold (NPS 9 -> 0.5, 10 -> 1.0 with the default 9)."""

    def describe(self) -> str:
        return f"{self.kind.upper()} {self.survey.score} on {self.survey.at.date().isoformat()}"


@dataclass(frozen=True)
class Snapshot:
    account_id: str
    as_of: datetime
    seats: int
    owned: frozenset[str]
    arr: Decimal
    active_users: int
    satisfaction: Satisfaction | None
    signals: ExpansionSignals
    growth: tuple[FeatureGrowth, ...] = ()
    """Per feature with a baseline: the last 30 whole days against the 60 before."""

    @property
    def usage_growth(self) -> float | None:
        return account_growth(list(self.growth))

    @property
    def cohort(self) -> str:
        return cohort_key(self.signals.segment_name, self.owned)

    @property
    def active_ratio(self) -> float:
        return self.active_users / self.seats if self.seats else 0.0

    @property
    def adoption_counted(self) -> bool:
        """Active users can be set against seats: the account has seats and its usage carries user ids."""
        return self.seats > 0 and self.signals.users_reported

    def healthy_adoption(self, t: Thresholds) -> str | None:
        """Why adoption is healthy, in words; None when it is not, or nothing tells.

        Counted (seats and user ids): active users at `healthy_active_ratio` of seats or above.
        Otherwise (aggregate telemetry without user ids, or no seats) active users are unknown, not
        zero, so usage volume stands in: the account's usage at `healthy_usage_ratio` of its own
        baseline or above (per feature, so units never mix)."""
        if self.adoption_counted:
            return self.describe_adoption() if self.active_ratio >= t.healthy_active_ratio else None
        growth = self.usage_growth
        if growth is None or growth < t.healthy_usage_ratio:
            return None
        missing = "seats" if self.seats <= 0 else "user ids"
        return f"usage x{growth:.2f} against its previous 60 days (no {missing} to count active users against)"

    def describe_adoption(self) -> str:
        return (f"{self.active_users} of {self.seats} seats active in the last 30 days "
                f"({round(self.active_ratio * 100)}%)")

    def contract_evidence(self) -> tuple[str, ...]:
        return tuple(sorted(c.event_id for c in self.signals.live_contracts(self.as_of)))


def snapshot(account_id: str, signals: ExpansionSignals, thresholds: Thresholds, *, as_of: datetime) -> Snapshot:
    live = signals.live_contracts(as_of)
    return Snapshot(
        account_id=account_id,
        as_of=as_of,
        seats=sum(c.seats for c in live),
        owned=signals.owned_products(as_of),
        arr=sum((c.arr for c in live), Decimal(0)),
        active_users=signals.active_users(as_of),
        satisfaction=_satisfaction(signals, thresholds, as_of),
        signals=signals,
        growth=tuple(feature_growth(signals.volumes, as_of_day=day_number(as_of),
                                    min_baseline_days=thresholds.usage_growth_min_baseline_days)),
    )


def _satisfaction(signals: ExpansionSignals, t: Thresholds, as_of: datetime) -> Satisfaction | None:
    """The recent promoter answer, NPS before CSAT; None when there is none in the window."""
    since = as_of - timedelta(days=t.satisfaction_window_days)
    candidates = (("nps", signals.nps, t.promoter_nps, 10), ("csat", signals.csat, t.promoter_csat, 5))
    for kind, survey, threshold, top in candidates:
        if survey is not None and since <= survey.at <= as_of and survey.score >= threshold:
            strength = (survey.score - threshold + 1) / (top - threshold + 1)
            return Satisfaction(kind, survey, min(1.0, max(0.0, strength)))
    return None
