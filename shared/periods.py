"""Reporting periods: a quarter (`2027-Q1`), a month (`2027-01`) or a year (`2027`); renewals'
forecast and retention and expansion's pipeline take the same labels."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from pydantic import BaseModel

from shared.errors import ApiError
from shared.fx import ConsolidationBasis, ExchangeRates, basis, consolidate

CENTS = Decimal("0.01")

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date
    """Exclusive: the first day after the period."""


def parse_period(label: str) -> Period:
    """The period a label names; ValueError says which forms are accepted."""
    text = label.strip()
    if match := _QUARTER.match(text):
        year, quarter = int(match[1]), int(match[2])
        return Period(text, date(year, 3 * quarter - 2, 1), _month_after(year, 3 * quarter))
    if match := _MONTH.match(text):
        year, month = int(match[1]), int(match[2])
        return Period(text, date(year, month, 1), _month_after(year, month))
    if match := _YEAR.match(text):
        year = int(match[1])
        return Period(text, date(year, 1, 1), date(year + 1, 1, 1))
    raise ValueError(f"period {label!r} is not a quarter (2027-Q1), a month (2027-01) or a year (2027)")


def quarter_of(day: date) -> Period:
    """The quarter `day` falls in."""
    quarter = (day.month - 1) // 3 + 1
    return Period(f"{day.year:04d}-Q{quarter}", date(day.year, 3 * quarter - 2, 1), _month_after(day.year, 3 * quarter))


def _month_after(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1)


def utc_day(at: datetime) -> date:
    """The calendar day (UTC) a point in time falls on: renewal days and midnights are counted in UTC."""
    return at.astimezone(UTC).date()


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def requested_period(label: str, *, param: str = "period") -> Period:
    """The period a query parameter names; a 400 saying which forms are accepted otherwise."""
    try:
        return parse_period(label)
    except ValueError as exc:
        raise ApiError(400, str(exc), details=[{"loc": f"query.{param}", "msg": str(exc)}]) from exc


class PeriodReport(BaseModel):
    """Where the twin report of the same period is: renewals' forecast and expansion's pipeline point
    at each other (same period labels, same bucket shape)."""

    service: str
    method: str = "GET"
    path: str


@dataclass
class WeightedBucket:
    """One group of a period's money: how many, their ARR, and the ARR expected (ARR x weight, a
    probability or a stage weight), with the weight when one applies to the whole group. Renewals'
    forecast and expansion's pipeline both sum into these."""

    count: int = 0
    arr: Decimal = Decimal(0)
    expected_arr: Decimal = Decimal(0)
    weight: Decimal | None = None

    def add(self, arr: Decimal, weight: Decimal) -> None:
        self.count += 1
        self.arr += arr
        self.expected_arr = (self.expected_arr + arr * weight).quantize(CENTS)


@dataclass
class CurrencyBuckets:
    """One currency's money in a period's report: the total, and settled ones by outcome; each report
    adds its groupings of the pending ones (expansion's by stage and by period, renewals' by risk band)."""

    currency: str
    total: WeightedBucket = field(default_factory=WeightedBucket)
    by_outcome: dict[str, WeightedBucket] = field(default_factory=dict)

    def add(self, group: dict[str, WeightedBucket], key: str, arr: Decimal, weight: Decimal) -> None:
        """Count `arr` at `weight` in the total and in `group`'s bucket `key` (one weight per bucket)."""
        group.setdefault(key, WeightedBucket(weight=weight)).add(arr, weight)
        self.total.add(arr, weight)


@dataclass(frozen=True)
class ConsolidatedTotals:
    currency: str
    arr: Decimal
    expected_arr: Decimal


def consolidated_totals(
    totals: Mapping[str, WeightedBucket], rates: ExchangeRates | None
) -> tuple[ConsolidationBasis, ConsolidatedTotals | None]:
    """A report's per-currency totals (currency -> its bucket) in one currency: the basis (which table
    and rates, or why none), and the ARR and expected ARR when every currency has a rate (else None)."""
    consolidation = basis(totals, rates)
    arr = consolidate({c: t.arr for c, t in totals.items()}, consolidation)
    expected = consolidate({c: t.expected_arr for c, t in totals.items()}, consolidation)
    if arr is None or expected is None or consolidation.currency is None:
        return consolidation, None
    return consolidation, ConsolidatedTotals(consolidation.currency, arr, expected)
