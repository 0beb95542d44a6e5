"""What one account adds to its cohort's norms at a refresh: its cohort (segment and plan), its growth
against its own baseline and its volume per feature in the last 30 whole days, as of a day's start.

Pure, from the account's folded signals alone, so the service's refresh pass (every stored account)
and the backtest (every account at every UTC midnight) build the same norms from the same events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from services.expansion.domain.cohorts import CohortNorms, build_norms, cohort_key
from services.expansion.domain.signals import ExpansionSignals
from services.expansion.domain.usage import account_growth, feature_growth, window_total
from shared.days import start_of_day


@dataclass(frozen=True, slots=True)
class NormSample:
    cohort: str
    growth: float | None
    """The account's growth ratio; None without a baseline."""
    recent: Mapping[str, float]
    """Feature -> volume in the last 30 whole days (features used only)."""


def norm_sample(signals: ExpansionSignals, *, day: int, min_baseline_days: int) -> NormSample | None:
    """The account's sample as of the start of UTC day `day` (whole days before it), while it holds a
    live contract and has a growth baseline or recent usage; None otherwise."""
    as_of = start_of_day(day)
    if not signals.live_contracts(as_of):
        return None
    growth = account_growth(feature_growth(signals.volumes, as_of_day=day, min_baseline_days=min_baseline_days))
    recent = {f: total for f, days in signals.volumes.items() if (total := window_total(days, as_of_day=day)) > 0}
    if growth is None and not recent:
        return None
    return NormSample(cohort_key(signals.segment_name, signals.owned_products(as_of)), growth, recent)


def norms_from_samples(samples: Iterable[NormSample], *, version: int = 0,
                       effective_from: datetime | None = None) -> CohortNorms:
    """One version of the norms from every account's sample."""
    rows = list(samples)
    return build_norms([(s.cohort, s.growth) for s in rows if s.growth is not None],
                       [(s.cohort, s.recent) for s in rows if s.recent], version=version,
                       effective_from=effective_from)
