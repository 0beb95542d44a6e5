"""Whitespace: catalogue products the account does not own, and why each fits (or does not yet).

Fit, 0..1, is the sum of plain facts an account manager would cite:

    0.3  the account owns every prerequisite (without them the fit is 0: "needs X first")
  + 0.3  adoption is healthy (`Snapshot.healthy_adoption`): active users >= `healthy_active_ratio` of
         seats, or without user ids or seats to count them, usage volume holding against its baseline
  + 0.2  a promoter answered recently (NPS/CSAT at or above the promoter threshold)
  + 0.2  the account already uses one of the product's premium features

The estimated uplift is the product's annual list price per seat times the licensed seats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.expansion.domain.catalogue import Catalogue, Product
from services.expansion.domain.snapshot import CENTS, Snapshot
from services.expansion.domain.thresholds import Thresholds
from shared.days import day_number

PREREQUISITES_WEIGHT = 0.3
ADOPTION_WEIGHT = 0.3
PROMOTER_WEIGHT = 0.2
PREMIUM_USE_WEIGHT = 0.2


@dataclass(frozen=True)
class WhitespaceFit:
    product: Product
    fit: float
    prerequisites_met: bool
    reasons: tuple[str, ...]
    evidence_event_ids: tuple[str, ...]
    estimated_arr_uplift: Decimal


def whitespace(snap: Snapshot, catalogue: Catalogue, thresholds: Thresholds) -> list[WhitespaceFit]:
    """Every catalogue product the account does not own: best fit first, then lower tier, then id."""
    fits = [_fit(snap, product, thresholds) for product in catalogue.products.values()
            if product.product_id not in snap.owned]
    return sorted(fits, key=lambda f: (-f.fit, f.product.tier, f.product.product_id))


def premium_use(snap: Snapshot, product: Product) -> list[tuple[str, int, tuple[str, ...]]]:
    """(feature, days used in the last 30, evidence) for each of the product's premium features in use."""
    today = day_number(snap.as_of)
    used = []
    for feature in product.premium_features:
        use = snap.signals.features.get(feature)
        if use is not None and (days := use.days_used(today)) > 0:
            used.append((feature, days, use.evidence))
    return used


def _fit(snap: Snapshot, product: Product, t: Thresholds) -> WhitespaceFit:
    uplift = (product.list_price_per_seat * snap.seats).quantize(CENTS)
    missing = [p for p in product.prerequisites if p not in snap.owned]
    if missing:
        return WhitespaceFit(product, 0.0, False, (f"needs {', '.join(missing)} first",), (), uplift)
    fit = PREREQUISITES_WEIGHT
    owned = ", ".join(product.prerequisites) if product.prerequisites else "no prerequisites"
    reasons = [f"owns its prerequisites ({owned})" if product.prerequisites else "has no prerequisites"]
    evidence = list(snap.contract_evidence())
    if (adoption := snap.healthy_adoption(t)) is not None:
        fit += ADOPTION_WEIGHT
        reasons.append(f"healthy adoption: {adoption}")
    if snap.satisfaction is not None:
        fit += PROMOTER_WEIGHT
        reasons.append(f"promoter: {snap.satisfaction.describe()}")
        evidence.append(snap.satisfaction.survey.event_id)
    used = premium_use(snap, product)
    if used:
        fit += PREMIUM_USE_WEIGHT
        reasons.append("already uses " + ", ".join(f"{f} ({d} of the last 30 days)" for f, d, _ in used))
        evidence.extend(e for _, _, ids in used for e in ids)
    return WhitespaceFit(product, round(fit, 4), True, tuple(reasons), tuple(dict.fromkeys(evidence)), uplift)
