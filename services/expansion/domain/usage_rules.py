"""The rules that read usage volume (no user ids needed): `plan_limit` and `usage_growth`."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from services.expansion.domain.catalogue import Catalogue, Product
from services.expansion.domain.cohorts import CohortNorms
from services.expansion.domain.snapshot import CENTS, Snapshot
from services.expansion.domain.thresholds import Thresholds
from services.expansion.domain.trigger import Trigger, base_product
from services.expansion.domain.usage import window_total
from shared.days import day_number

FULL_CONFIDENCE_LIMIT_RATIO = 1.1
"""plan_limit is fully confident at 110% of what the plan includes."""
MAX_GROWTH_UPLIFT = 1.0
"""usage_growth proposes at most the account's ARR again (growth beyond doubling adds nothing)."""
COHORT_UNKNOWN = 0.5
"""The cohort part of usage_growth's confidence when there are too few similar accounts to tell."""


def plan_limit(snap: Snapshot, catalogue: Catalogue, t: Thresholds) -> list[Trigger]:
    """A feature whose last 30 whole days reach `plan_limit_ratio` of what the owned products include.

    Proposes the lowest-tier product the account can buy (prerequisites owned) that includes more of
    that feature, at its list price x seats; when none does, more capacity on the owned plan: the
    owned products' price per seat x seats x the share over the limit (at least the seat headroom).
    Confidence: 0.5 at the threshold, rising linearly to 1.0 at 110% of the limit. One trigger per
    proposed product: the feature pressing hardest.
    """
    owned = [catalogue.products[p] for p in sorted(snap.owned) if p in catalogue.products]
    allowance: dict[str, Decimal] = {}
    for plan in owned:
        for feature, limit in plan.limits.items():
            allowance[feature] = allowance.get(feature, Decimal(0)) + limit.allowance(snap.seats)
    today = day_number(snap.as_of)
    best: dict[str, tuple[float, Trigger]] = {}
    for feature in sorted(allowance):
        included = allowance[feature]
        if included <= 0:
            continue  # a per-seat limit on an account without seats: unknown, not exceeded
        used = window_total(snap.signals.volumes.get(feature, {}), as_of_day=today)
        ratio = used / float(included)
        if ratio < t.plan_limit_ratio:
            continue
        upgrade = _upgrade_for(feature, included, snap, catalogue)
        if upgrade is not None:
            product, uplift = upgrade.product_id, upgrade.list_price_per_seat * max(snap.seats, 1)
            proposal = f"{upgrade.name} includes {upgrade.limits[feature].describe()}"
        else:
            product, price = base_product(snap, catalogue)
            share = Decimal(str(max(ratio - 1, t.seat_headroom_ratio)))
            uplift = price * max(snap.seats, 1) * share
            proposal = "propose more capacity on the current plan"
        span = max(FULL_CONFIDENCE_LIMIT_RATIO - t.plan_limit_ratio, 0.01)
        confidence = 0.5 + 0.5 * min(1.0, (ratio - t.plan_limit_ratio) / span)
        use = snap.signals.features.get(feature)
        reason = (f"{feature}: {used:,.0f} in the last 30 days, {round(ratio * 100)}% of the {included:,} the plan "
                  f"includes ({', '.join(p.name for p in owned if feature in p.limits)}); {proposal}")
        evidence = (*(use.evidence if use else ()), *snap.contract_evidence())
        trigger = Trigger("plan_limit", product, reason, evidence, uplift.quantize(CENTS), round(confidence, 4))
        if product not in best or ratio > best[product][0]:
            best[product] = (ratio, trigger)
    return [trigger for _, trigger in best.values()]


def _upgrade_for(feature: str, included: Decimal, snap: Snapshot, catalogue: Catalogue) -> Product | None:
    candidates = [p for p in catalogue.products.values()
                  if p.product_id not in snap.owned and feature in p.limits
                  and all(r in snap.owned for r in p.prerequisites)
                  and p.limits[feature].allowance(max(snap.seats, 1)) > included]
    return min(candidates, key=lambda p: (p.tier, p.product_id), default=None)


def usage_growth(snap: Snapshot, catalogue: Catalogue, t: Thresholds, norms: CohortNorms) -> list[Trigger]:
    """Usage volume grew to `usage_growth_ratio` x its baseline (median over features, each against
    its own previous 60 days) and, when the cohort (segment and plan) has `cohort_min_accounts`
    accounts with a baseline, faster than `cohort_min_percentile` of them.

    Proposes more of the owned plan (see `base_product`). Uplift: ARR x (growth - 1), at most the ARR
    (without ARR: price per seat x seats x (growth - 1)). Confidence: 0.4 + 0.3 x min(1, growth beyond
    the threshold / the threshold) + 0.3 x the share of the cohort growing slower (0.5 unknown).
    """
    growth = snap.usage_growth
    if growth is None or growth < t.usage_growth_ratio:
        return []
    standing = norms.standing(snap.cohort, growth)
    if standing is not None and standing[1] >= t.cohort_min_accounts:
        share, size = standing
        if share < t.cohort_min_percentile:
            return []
        cohort_part = share
        cohort_text = f"faster than {round(share * 100)}% of {size} similar accounts ({snap.cohort})"
    else:
        cohort_part = COHORT_UNKNOWN
        cohort_text = f"too few similar accounts ({snap.cohort}) to compare with"
    product, price = base_product(snap, catalogue)
    extra = Decimal(str(min(growth - 1, MAX_GROWTH_UPLIFT)))
    uplift = snap.arr * extra if snap.arr > 0 else price * snap.seats * extra
    confidence = 0.4 + 0.3 * min(1.0, (growth - t.usage_growth_ratio) / t.usage_growth_ratio) + 0.3 * cohort_part
    rising = sorted(snap.growth, key=lambda g: (-g.ratio, g.feature))[:3]
    reason = (f"usage x{growth:.2f} against its previous 60 days ({'; '.join(g.describe() for g in rising)}); "
              f"{cohort_text}: propose more {product}")
    evidence = (*_evidence(snap, [g.feature for g in rising]), *snap.contract_evidence())
    return [Trigger("usage_growth", product, reason, tuple(dict.fromkeys(evidence)), uplift.quantize(CENTS),
                    round(min(1.0, confidence), 4))]


def _evidence(snap: Snapshot, features: list[str]) -> list[str]:
    uses: Mapping[str, object] = snap.signals.features
    return [e for f in features if f in uses for e in snap.signals.features[f].evidence]
