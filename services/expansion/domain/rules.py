"""The upsell trigger rules. Each reads a Snapshot and returns at most a few Triggers with a human
reason, the events behind it, an estimated ARR uplift and a confidence (0..1, formula per rule).

Rules run in this order and a product is proposed once per evaluation (the first rule that names
it wins): seat_limit, plan_limit, usage_growth, usage_level, premium_feature_use, high_satisfaction,
whitespace. So one signal never becomes two leads for the same product in the same moment.
plan_limit, usage_growth and usage_level read usage volume, not users (`usage_rules`, `usage_level`).
"""

from __future__ import annotations

import math

from services.expansion.domain.catalogue import Catalogue
from services.expansion.domain.cohorts import NO_NORMS, CohortNorms
from services.expansion.domain.snapshot import CENTS, Snapshot
from services.expansion.domain.thresholds import Thresholds
from services.expansion.domain.trigger import Trigger, base_product
from services.expansion.domain.usage_level import usage_level
from services.expansion.domain.usage_rules import plan_limit, usage_growth
from services.expansion.domain.whitespace import premium_use, whitespace

__all__ = ["Trigger", "evaluate_triggers"]

FULL_CONFIDENCE_SEAT_RATIO = 1.1
"""seat_limit is fully confident when active users exceed the seats by 10%."""
PREMIUM_FULL_DAYS = 10
"""premium_feature_use's usage part is full at 10 days of use in 30."""
ADOPTION_UNKNOWN = 0.5
"""high_satisfaction's adoption part of the confidence when active users cannot be counted."""


def evaluate_triggers(snap: Snapshot, catalogue: Catalogue, thresholds: Thresholds,
                      norms: CohortNorms = NO_NORMS) -> list[Trigger]:
    triggers = seat_limit(snap, catalogue, thresholds)
    triggers += _untaken(triggers, plan_limit(snap, catalogue, thresholds))
    triggers += _untaken(triggers, usage_growth(snap, catalogue, thresholds, norms))
    triggers += _untaken(triggers, usage_level(snap, catalogue, thresholds, norms))
    triggers += _untaken(triggers, premium_feature_use(snap, catalogue, thresholds))
    triggers += high_satisfaction(snap, catalogue, thresholds, taken=frozenset(t.product for t in triggers))
    triggers += _untaken(triggers, whitespace_triggers(snap, catalogue, thresholds))
    return triggers


def _untaken(earlier: list[Trigger], candidates: list[Trigger]) -> list[Trigger]:
    taken = {t.product for t in earlier}
    return [t for t in candidates if t.product not in taken]


def seat_limit(snap: Snapshot, catalogue: Catalogue, t: Thresholds) -> list[Trigger]:
    """Active users at `seat_limit_ratio` of licensed seats or above.

    Uplift: extra seats x price per seat, where extra seats = max(active - seats, headroom share of
    seats, 1) and the price is the list price of the owned catalogue products together (the
    account's own ARR per seat when none of its products is in the catalogue).
    Confidence: 0.5 at the threshold, rising linearly to 1.0 at 110% of seats.
    """
    if snap.seats <= 0 or snap.active_ratio < t.seat_limit_ratio:
        return []
    product, price = base_product(snap, catalogue)
    extra = max(snap.active_users - snap.seats, math.ceil(snap.seats * t.seat_headroom_ratio), 1)
    span = max(FULL_CONFIDENCE_SEAT_RATIO - t.seat_limit_ratio, 0.01)
    confidence = 0.5 + 0.5 * min(1.0, (snap.active_ratio - t.seat_limit_ratio) / span)
    reason = f"{snap.describe_adoption()}: propose {extra} more seats"
    evidence = (*snap.contract_evidence(), *snap.signals.usage_evidence)
    return [Trigger("seat_limit", product, reason, evidence, (price * extra).quantize(CENTS), round(confidence, 4))]


def premium_feature_use(snap: Snapshot, catalogue: Catalogue, t: Thresholds) -> list[Trigger]:
    """Features of a product the account does not own, used on `premium_min_days` of the last 30.

    Uplift: the product's list price x licensed seats (x active users without a contract).
    Confidence: 0.4 + 0.3 x min(1, most days used / 10) + 0.3 x share of the product's premium
    features in use.
    """
    triggers = []
    for product in sorted(catalogue.products.values(), key=lambda p: (p.tier, p.product_id)):
        if product.product_id in snap.owned:
            continue
        used = premium_use(snap, product)
        most_days = max((days for _, days, _ in used), default=0)
        if most_days < t.premium_min_days:
            continue
        share = len(used) / len(product.premium_features)
        confidence = 0.4 + 0.3 * min(1.0, most_days / PREMIUM_FULL_DAYS) + 0.3 * share
        seats = snap.seats or snap.active_users
        features = " and ".join(f"{f} ({d} of the last 30 days)" for f, d, _ in used)
        reason = f"uses {features}: premium features of {product.name}, which the account does not own"
        evidence = tuple(dict.fromkeys(e for _, _, ids in used for e in ids))
        uplift = (product.list_price_per_seat * seats).quantize(CENTS)
        triggers.append(Trigger("premium_feature_use", product.product_id, reason, evidence, uplift,
                                round(min(1.0, confidence), 4)))
    return triggers


def high_satisfaction(
    snap: Snapshot, catalogue: Catalogue, t: Thresholds, *, taken: frozenset[str] = frozenset()
) -> list[Trigger]:
    """A recent promoter (NPS >= 9 or CSAT >= 4.5 within 90 days) with healthy adoption
    (`Snapshot.healthy_adoption`: active users against seats where user ids are sent, usage volume
    against its own baseline where they are not): offer the best-fitting whitespace product that no
    earlier rule proposes (`taken`).

    Uplift: that product's list price x licensed seats.
    Confidence: 0.4 + 0.3 x promoter strength (NPS 9 -> 0.5, 10 -> 1) + 0.3 x min(1, active ratio)
    (0.5 for that part when active users cannot be counted).
    """
    if snap.satisfaction is None or not snap.seats:
        return []
    adoption = snap.healthy_adoption(t)
    if adoption is None:
        return []
    fits = [f for f in whitespace(snap, catalogue, t) if f.prerequisites_met and f.product.product_id not in taken]
    if not fits:
        return []
    best = fits[0]
    adoption_part = min(1.0, snap.active_ratio) if snap.adoption_counted else ADOPTION_UNKNOWN
    confidence = 0.4 + 0.3 * snap.satisfaction.strength + 0.3 * adoption_part
    reason = (f"{snap.satisfaction.describe()} and {adoption}: a promoter with healthy adoption; "
              f"{best.product.name} fits next ({best.reasons[0]})")
    evidence = (snap.satisfaction.survey.event_id, *snap.contract_evidence())
    return [Trigger("high_satisfaction", best.product.product_id, reason, evidence, best.estimated_arr_uplift,
                    round(min(1.0, confidence), 4))]


def whitespace_triggers(snap: Snapshot, catalogue: Catalogue, t: Thresholds) -> list[Trigger]:
    """Whitespace products whose fit (see `whitespace`) reaches `whitespace_min_fit`; confidence = fit."""
    if not snap.seats:
        return []
    return [
        Trigger("whitespace", f.product.product_id, f"{f.product.name} fits: " + "; ".join(f.reasons),
                f.evidence_event_ids, f.estimated_arr_uplift, f.fit)
        for f in whitespace(snap, catalogue, t)
        if f.prerequisites_met and f.fit >= t.whitespace_min_fit
    ]
