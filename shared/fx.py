"""The optional exchange-rate table (``ORCHARD_FX_RATES``) and consolidation into one currency.

Amounts in two currencies are never summed as they are; with a table, reports (renewals' retention
and forecast, expansion's pipeline) add a consolidated figure in the table's base currency beside
the per-currency figures, which stay the source. Without a table, or without a rate for one of the
currencies involved, there is no consolidated figure and the report says why.

``ORCHARD_FX_RATES`` is either the table itself as JSON or the path of a YAML (or JSON) file holding
it. The table, where each rate is what one unit of the currency is worth in `base`:

    base: USD
    as_of: "2027-01-01"        # optional: the date the rates are from, shown with every figure
    rates: {EUR: "1.08", GBP: "1.27"}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, TypeVar

import orjson
import yaml
from pydantic import BaseModel, Field

CENTS = Decimal("0.01")
_Figures = TypeVar("_Figures")

ByCurrency = Annotated[list[_Figures], Field(description="One per currency: amounts are never summed across.")]
"""A report's figures, one entry per currency (the response field every money report has)."""
Consolidated = Annotated[_Figures | None, Field(
    description="The totals in one currency with the exchange-rate table (ORCHARD_FX_RATES); null without one.")]
"""A report's totals consolidated into the table's base currency, beside `by_currency` (and its
`ConsolidationBasis`, which says how, or why there are none)."""
NO_TABLE = "no exchange-rate table is configured (ORCHARD_FX_RATES): amounts are shown per currency only"


def _is_currency(code: object) -> bool:
    return isinstance(code, str) and len(code) == 3 and code.isalpha() and code.isupper()


@dataclass(frozen=True)
class ExchangeRates:
    base: str
    rates: Mapping[str, Decimal]
    """One unit of the currency, in `base` (the base itself is 1)."""
    as_of: str | None = None

    def rate(self, currency: str) -> Decimal | None:
        return Decimal(1) if currency == self.base else self.rates.get(currency)


def parse_rates(document: object) -> ExchangeRates:
    """The table in `document` (see the module docstring); ValueError lists every problem."""
    if not isinstance(document, dict):
        raise ValueError("the exchange-rate table must be a mapping with base and rates")
    problems = []
    base = document.get("base")
    if not _is_currency(base):
        problems.append(f"base must be an ISO 4217 code, got {base!r}")
    raw = document.get("rates")
    rates: dict[str, Decimal] = {}
    if not isinstance(raw, dict) or not raw:
        problems.append("rates must be a non-empty mapping of currency to rate")
        raw = {}
    for currency, value in raw.items():
        try:
            rate = Decimal(str(value))
        except InvalidOperation:
            rate = Decimal(0)
        if not _is_currency(currency) or not rate.is_finite() or rate <= 0:
            problems.append(f"rates.{currency}: a positive number per ISO 4217 code, got {value!r}")
        else:
            rates[currency] = rate
    as_of = document.get("as_of")
    if problems:
        raise ValueError("invalid exchange-rate table: " + "; ".join(problems))
    assert isinstance(base, str)
    return ExchangeRates(base, rates, None if as_of is None else str(as_of))


def load_rates(setting: str) -> ExchangeRates | None:
    """The table ``ORCHARD_FX_RATES`` names (inline JSON or a file path); None when it is empty."""
    text = setting.strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            return parse_rates(orjson.loads(text))
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"ORCHARD_FX_RATES is not valid JSON: {exc}") from None
    path = Path(text)
    if not path.is_file():
        raise ValueError(f"ORCHARD_FX_RATES names no readable file: {text}")
    return parse_rates(yaml.safe_load(path.read_text(encoding="utf-8")))


class ConsolidationBasis(BaseModel):
    """How (or why not) the per-currency amounts were consolidated, beside every consolidated figure."""

    currency: str | None = Field(description="The table's base currency; null without a table.")
    rates: dict[str, Decimal] = Field(description="The rates used: one unit of each currency, in `currency`.")
    as_of: str | None = Field(None, description="The date the table says its rates are from.")
    missing: list[str] = Field(description="Currencies involved that the table has no rate for.")
    consolidated: bool = Field(description="Whether the consolidated figures could be computed.")
    reason: str = Field(description="In words: which table, or why there is no consolidated figure.")


def basis(currencies: Iterable[str], table: ExchangeRates | None) -> ConsolidationBasis:
    """Whether amounts in `currencies` can be consolidated with `table`, and with which rates."""
    involved = sorted(set(currencies))
    if table is None:
        return ConsolidationBasis(currency=None, rates={}, missing=involved, consolidated=False, reason=NO_TABLE)
    missing = [c for c in involved if table.rate(c) is None]
    rates = {c: rate for c in involved if (rate := table.rate(c)) is not None}
    dated = f" of {table.as_of}" if table.as_of else ""
    if missing:
        reason = (f"no consolidated figure: the exchange-rate table{dated} has no rate to {table.base} for "
                  + ", ".join(missing))
    else:
        reason = f"consolidated in {table.base} with the exchange-rate table{dated} (ORCHARD_FX_RATES)"
    return ConsolidationBasis(currency=table.base, rates=rates, as_of=table.as_of, missing=missing,
                              consolidated=not missing, reason=reason)


def consolidate(amounts: Mapping[str, Decimal], consolidation: ConsolidationBasis) -> Decimal | None:
    """The sum of `amounts` (currency -> amount) in the basis's currency, to the cent; None when the
    basis cannot consolidate (no table, or a currency without a rate)."""
    if not consolidation.consolidated:
        return None
    total = Decimal(0)
    for currency, amount in amounts.items():
        rate = consolidation.rates.get(currency)
        if rate is None:
            return None
        total += amount * rate
    return total.quantize(CENTS)

