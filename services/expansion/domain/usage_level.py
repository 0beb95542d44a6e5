"""`usage_level`: an account that uses more than most accounts like it (same segment and plan).

Where no plan limit is known (a catalogue without `limits`) and no user ids come with the usage, an
account pressing on its plan still shows: its volume stands high among the accounts on the same plan.
Level, not growth: an account that has always used a lot for its plan is a candidate for the next
plan as much as one that just grew (on the ChurnSim books most first upgrades come with no growth
before them, `docs/expansion-signal.md`). Per feature, so units never mix, each against the cohort's
accounts that use it (`CohortNorms.level`); the median over the account's features, so one busy
feature does not decide.
"""

from __future__ import annotations

from decimal import Decimal

from services.expansion.domain.catalogue import Catalogue
from services.expansion.domain.cohorts import CohortNorms
from services.expansion.domain.snapshot import CENTS, Snapshot
from services.expansion.domain.thresholds import Thresholds
from services.expansion.domain.trigger import Trigger, base_product
from services.expansion.domain.usage import window_total
from shared.days import day_number

SHOWN_FEATURES = 3
"""The features the reason names: those where the account stands highest."""


def recent_volumes(snap: Snapshot) -> dict[str, float]:
    """Each feature's volume in the last 30 whole days (the level a cohort norm compares)."""
    today = day_number(snap.as_of)
    return {feature: total for feature, days in sorted(snap.signals.volumes.items())
            if (total := window_total(days, as_of_day=today)) > 0}


def usage_level(snap: Snapshot, catalogue: Catalogue, t: Thresholds, norms: CohortNorms) -> list[Trigger]:
    """Usage in the last 30 whole days at `usage_level_percentile` of the cohort or above (the median
    over the account's features of its percentile among each feature's users), in a cohort of at least
    `cohort_min_accounts` accounts with usage. An account without contract or usage is not judged.

    Proposes more of the owned plan (see `base_product`). Uplift: the seat headroom share of the ARR
    (without ARR: price per seat x seats x that share), the same "more capacity" as seat_limit.
    Confidence: 0.4 + 0.6 x how far the level is from the threshold towards the top of the cohort.
    """
    if not t.usage_level or not snap.owned:
        return []
    recent = recent_volumes(snap)
    if not recent:
        return []
    standing = norms.level(snap.cohort, recent)
    if standing is None or standing.accounts < t.cohort_min_accounts or standing.share < t.usage_level_percentile:
        return []
    product, price = base_product(snap, catalogue)
    share = Decimal(str(t.seat_headroom_ratio))
    uplift = snap.arr * share if snap.arr > 0 else price * max(snap.seats, 1) * share
    span = max(1.0 - t.usage_level_percentile, 0.01)
    confidence = 0.4 + 0.6 * min(1.0, (standing.share - t.usage_level_percentile) / span)
    top = "; ".join(f"{feature} {volume:,.4g} (above {round(pct * 100)}%)"
                    for feature, volume, pct in standing.by_feature[:SHOWN_FEATURES])
    reason = (f"usage in the last 30 days above {round(standing.share * 100)}% of {standing.accounts} similar "
              f"accounts ({snap.cohort}), the median over {_features(len(standing.by_feature))} ({top}): "
              f"propose more {product}")
    uses = snap.signals.features
    evidence = [e for feature, _, _ in standing.by_feature[:SHOWN_FEATURES] if feature in uses
                for e in uses[feature].evidence]
    return [Trigger("usage_level", product, reason, tuple(dict.fromkeys((*evidence, *snap.contract_evidence()))),
                    uplift.quantize(CENTS), round(min(1.0, confidence), 4))]


def _features(count: int) -> str:
    return "1 feature" if count == 1 else f"{count} features"
