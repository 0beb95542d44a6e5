"""The product catalogue: what can be sold to an account, at what list price, after what.

Read from YAML (``deploy/catalogue.yaml``, path in ``ORCHARD_CATALOGUE``) by the shell; validated
here from the decoded document, so every rule sees a consistent catalogue: unique ids, known
prerequisites without cycles, non-negative prices, and each premium feature owned by one product
(otherwise "which product does this usage point to?" has two answers).

A product may carry plan limits: per `usage.recorded` feature, the quantity its plan includes per
30 days, for the whole account or per licensed seat::

    limits:
      api_calls: {per_30_days: 100000}
      exports: {per_30_days: 40, per: seat}

The `plan_limit` rule measures the account's last 30 days of that feature against them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any


class CatalogueInvalid(ValueError):
    """The catalogue document cannot be used; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid product catalogue: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class PlanLimit:
    per_30_days: Decimal
    per_seat: bool = False

    def allowance(self, seats: int) -> Decimal:
        return self.per_30_days * seats if self.per_seat else self.per_30_days

    def describe(self) -> str:
        return f"{self.per_30_days:,} per {'seat and ' if self.per_seat else ''}30 days"


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    name: str
    tier: int
    list_price_per_seat: Decimal
    """Annual list price of one seat."""
    prerequisites: tuple[str, ...] = ()
    premium_features: tuple[str, ...] = ()
    limits: Mapping[str, PlanLimit] = field(default_factory=dict)
    """feature -> what the plan includes of it (features not listed are unlimited)."""


@dataclass(frozen=True)
class Catalogue:
    products: Mapping[str, Product]
    currency: str = "USD"

    def product_of_feature(self, feature: str) -> Product | None:
        """The product a premium feature belongs to (None for features every plan has)."""
        for product in self.products.values():
            if feature in product.premium_features:
                return product
        return None

    def price_per_seat(self, product_ids: set[str] | frozenset[str]) -> Decimal:
        """Annual list price of one seat of these products together (unknown products cost 0)."""
        return sum((self.products[p].list_price_per_seat for p in product_ids if p in self.products), Decimal(0))


def parse_catalogue(document: object) -> Catalogue:
    """A validated Catalogue from a decoded YAML/JSON document; CatalogueInvalid lists the problems."""
    if not isinstance(document, Mapping):
        raise CatalogueInvalid(["the catalogue must be a mapping with a 'products' list"])
    entries = document.get("products")
    if not isinstance(entries, list) or not entries:
        raise CatalogueInvalid(["'products' must be a non-empty list"])
    currency = document.get("currency", "USD")
    problems: list[str] = []
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper():
        problems.append(f"currency must be an ISO 4217 code, got {currency!r}")
    products: dict[str, Product] = {}
    for index, entry in enumerate(entries):
        product = _product(index, entry, problems)
        if product is None:
            continue
        if product.product_id in products:
            problems.append(f"product {product.product_id!r} is listed twice")
        products[product.product_id] = product
    _check_references(products, problems)
    if problems:
        raise CatalogueInvalid(problems)
    return Catalogue(products=products, currency=str(currency))


def _product(index: int, entry: object, problems: list[str]) -> Product | None:
    where = f"products[{index}]"
    if not isinstance(entry, Mapping):
        problems.append(f"{where} must be a mapping")
        return None
    product_id, name = entry.get("id"), entry.get("name")
    if not isinstance(product_id, str) or not product_id.strip():
        problems.append(f"{where}.id must be a non-empty string")
        return None
    where = f"product {product_id!r}"
    tier = entry.get("tier")
    if isinstance(tier, bool) or not isinstance(tier, int) or tier < 1:
        problems.append(f"{where}: tier must be an integer >= 1, got {tier!r}")
    price = _price(entry.get("list_price_per_seat"))
    if price is None:
        problems.append(f"{where}: list_price_per_seat must be a number >= 0, got {entry.get('list_price_per_seat')!r}")
    prerequisites = _names(entry.get("prerequisites", []), f"{where}: prerequisites", problems)
    premium = _names(entry.get("premium_features", []), f"{where}: premium_features", problems)
    limits = _limits(entry.get("limits", {}), where, problems)
    if problems and (price is None or not isinstance(tier, int)):
        return None
    return Product(
        product_id=product_id.strip(), name=name.strip() if isinstance(name, str) and name.strip() else product_id,
        tier=int(tier) if isinstance(tier, int) else 1, list_price_per_seat=price or Decimal(0),
        prerequisites=prerequisites, premium_features=premium, limits=limits,
    )


def _limits(value: Any, where: str, problems: list[str]) -> dict[str, PlanLimit]:
    if not isinstance(value, Mapping):
        problems.append(f"{where}: limits must be a mapping of feature -> {{per_30_days, per}}")
        return {}
    limits = {}
    for feature, spec in value.items():
        quantity = _price(spec.get("per_30_days")) if isinstance(spec, Mapping) else None
        per = spec.get("per", "account") if isinstance(spec, Mapping) else None
        if not isinstance(feature, str) or not feature.strip() or quantity is None or quantity <= 0 \
                or per not in ("account", "seat"):
            problems.append(f"{where}: limits.{feature} must be {{per_30_days: number > 0, per: account|seat}}")
            continue
        limits[feature.strip()] = PlanLimit(quantity, per_seat=per == "seat")
    return limits


def _price(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        return None
    return price if price.is_finite() and price >= 0 else None


def _names(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{where} must be a list of non-empty strings")
        return ()
    return tuple(v.strip() for v in value)


def _check_references(products: Mapping[str, Product], problems: list[str]) -> None:
    owner_of: dict[str, str] = {}
    for product in products.values():
        for prerequisite in product.prerequisites:
            if prerequisite not in products:
                problems.append(f"product {product.product_id!r}: unknown prerequisite {prerequisite!r}")
        for feature in product.premium_features:
            if feature in owner_of and owner_of[feature] != product.product_id:
                problems.append(
                    f"premium feature {feature!r} belongs to both {owner_of[feature]!r} and {product.product_id!r}"
                )
            owner_of[feature] = product.product_id
    for product_id in products:
        if _in_cycle(product_id, products):
            problems.append(f"product {product_id!r} is its own prerequisite (directly or through others)")


def _in_cycle(start: str, products: Mapping[str, Product]) -> bool:
    pending = list(products[start].prerequisites)
    seen: set[str] = set()
    while pending:
        current = pending.pop()
        if current == start:
            return True
        if current in seen or current not in products:
            continue
        seen.add(current)
        pending.extend(products[current].prerequisites)
    return False
