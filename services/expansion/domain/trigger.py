"""What every rule returns, and the product a "more of what it has" proposal names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.expansion.domain.catalogue import Catalogue
from services.expansion.domain.signals import ExpansionSignals
from services.expansion.domain.snapshot import Snapshot


@dataclass(frozen=True)
class Trigger:
    kind: str
    product: str
    reason: str
    evidence_event_ids: tuple[str, ...]
    estimated_arr_uplift: Decimal
    confidence: float


def base_product(snap: Snapshot, catalogue: Catalogue) -> tuple[str, Decimal]:
    """The product a proposal for more seats or capacity names, and the price of one more seat: the
    lowest-tier owned catalogue product at the owned products' list price together; without one in
    the catalogue, an owned product (or "seats") at the account's own ARR per seat."""
    owned = sorted((catalogue.products[p] for p in snap.owned if p in catalogue.products),
                   key=lambda p: (p.tier, p.product_id))
    if owned:
        return owned[0].product_id, catalogue.price_per_seat(snap.owned)
    return min(snap.owned, default="seats"), snap.arr / snap.seats if snap.seats else Decimal(0)


def uplift_currency(signals: ExpansionSignals, catalogue: Catalogue, product: str, *, as_of: datetime) -> str:
    """The currency an uplift estimate for `product` is in: the catalogue's for a catalogue product
    (list prices), else that of the account's contracts carrying it (priced at its own ARR per seat)."""
    if product in catalogue.products:
        return catalogue.currency
    carrying = sorted((c.contract_id, c.currency) for c in signals.live_contracts(as_of) if product in c.products)
    return carrying[0][1] if carrying else catalogue.currency
