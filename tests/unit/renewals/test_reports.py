"""Forecast arithmetic per currency, retention by hand on a small book, and periods."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.renewals.domain import (
    AccountSpan,
    ClosedCount,
    DueRenewal,
    band_probabilities,
    consolidated_retention,
    forecast,
    parse_period,
    retention,
)
from shared.fx import basis, parse_rates

pytestmark = pytest.mark.unit


def test_periods() -> None:
    q1 = parse_period("2027-Q1")
    assert (q1.start, q1.end) == (date(2027, 1, 1), date(2027, 4, 1))
    assert parse_period("2027-Q4").end == date(2028, 1, 1)
    assert (parse_period("2027-12").start, parse_period("2027-12").end) == (date(2027, 12, 1), date(2028, 1, 1))
    assert parse_period("2027").end == date(2028, 1, 1)
    for bad in ("2027-Q5", "Q1-2027", "2027-13", ""):
        with pytest.raises(ValueError, match="not a quarter"):
            parse_period(bad)


def _due(n: int, arr: str, currency: str, risk: str, stage: str = "open", on: str = "2027-02-15") -> DueRenewal:
    return DueRenewal(f"r{n}", date.fromisoformat(on), Decimal(arr), currency, risk, stage)


def test_forecast_by_risk_band_per_currency() -> None:
    result = forecast(parse_period("2027-Q1"), [
        _due(1, "10000", "USD", "low"), _due(2, "20000", "USD", "high"), _due(3, "4000", "USD", "critical"),
        _due(4, "5000", "USD", "high", stage="renewed"), _due(5, "8000", "EUR", "medium"),
        _due(6, "99999", "USD", "low", on="2027-04-01"),  # next quarter
    ])
    assert list(result) == ["EUR", "USD"]
    usd = result["USD"]
    # 10000 x 0.95 + 20000 x 0.5 + 4000 x 0.25 + 5000 x 1.0 (renewed)
    assert usd.total.count == 4 and usd.total.arr == Decimal(39000)
    assert usd.total.expected_arr == Decimal("25500.00")
    assert usd.by_risk["high"].expected_arr == Decimal("10000.00") and usd.by_risk["high"].count == 1
    assert usd.by_outcome["renewed"].expected_arr == Decimal("5000.00")
    assert result["EUR"].total.expected_arr == Decimal("6400.00"), "EUR is never added to USD"


def test_band_probabilities_come_from_the_books_history_once_a_band_has_enough_of_it() -> None:
    bands = band_probabilities({"high": ClosedCount(closed=20, renewed=13), "low": ClosedCount(closed=19, renewed=19),
                                "critical": ClosedCount(closed=40, renewed=4)}, min_closed=20)
    assert (bands["high"].probability, bands["high"].source) == (Decimal("0.6500"), "history")
    assert bands["high"].detail == "13 of the book's 20 closed renewals last judged high renewed"
    assert (bands["critical"].probability, bands["critical"].source) == (Decimal("0.1000"), "history")
    assert (bands["low"].probability, bands["low"].source) == (Decimal("0.95"), "default"), "19 is too few"
    assert "fewer than the 20" in bands["low"].detail
    assert (bands["medium"].probability, bands["medium"].closed) == (Decimal("0.80"), 0)


def test_the_forecast_applies_the_probabilities_it_is_given() -> None:
    by_risk = {"low": Decimal("0.9"), "medium": Decimal("0.7"), "high": Decimal("0.65"), "critical": Decimal("0.1")}
    result = forecast(parse_period("2027-Q1"), [_due(1, "10000", "USD", "high"), _due(2, "1000", "USD", "low"),
                                                _due(3, "5000", "USD", "low", stage="churned")], by_risk=by_risk)
    usd = result["USD"]
    assert usd.by_risk["high"].expected_arr == Decimal("6500.00") and usd.by_risk["high"].weight == Decimal("0.65")
    assert usd.total.expected_arr == Decimal("7400.00"), "6500 + 900 + churned 0"


def _span(account: str, arr: str, start: str, end: str, currency: str = "USD") -> AccountSpan:
    return AccountSpan(account, currency, Decimal(arr), date.fromisoformat(start), date.fromisoformat(end))


def test_retention_by_hand_on_a_small_book() -> None:
    book = [
        _span("steady", "10000", "2026-01-01", "2028-01-01"),
        _span("grows", "20000", "2026-01-01", "2027-02-01"), _span("grows", "30000", "2027-02-01", "2028-01-01"),
        _span("shrinks", "40000", "2026-06-01", "2027-03-01"), _span("shrinks", "30000", "2027-03-01", "2028-01-01"),
        _span("leaves", "30000", "2026-01-01", "2027-03-15"),
        _span("new", "50000", "2027-02-01", "2028-01-01"),  # a new customer: counts nowhere
        _span("euro", "10000", "2026-01-01", "2027-02-01", currency="EUR"),
        _span("euro", "12000", "2027-02-01", "2028-01-01", currency="EUR"),
    ]
    result = retention(parse_period("2027-Q1"), book)
    usd = result.by_currency["USD"]
    assert usd.starting_accounts == 4 and usd.starting_arr == Decimal(100000)
    assert (usd.churned_arr, usd.contraction_arr, usd.expansion_arr) == (Decimal(30000), Decimal(10000),
                                                                           Decimal(10000))
    assert usd.grr == Decimal("0.6000") and usd.nrr == Decimal("0.7000")
    eur = result.by_currency["EUR"]
    assert eur.starting_arr == Decimal(10000) and eur.nrr == Decimal("1.2000") and eur.grr == Decimal("1.0000")
    assert (result.starting_accounts, result.churned_accounts, result.logo_churn) == (5, 1, Decimal("0.2000"))


def test_retention_of_an_empty_book_has_no_ratios() -> None:
    result = retention(parse_period("2027-Q1"), [])
    assert result.starting_accounts == 0 and result.logo_churn is None and result.by_currency == {}


def test_consolidated_retention_converts_each_currency_and_only_with_every_rate() -> None:
    book = [_span("stays", "100000", "2026-01-01", "2028-01-01"),
            _span("leaves", "50000", "2026-01-01", "2027-02-01"),
            _span("euro", "10000", "2026-01-01", "2027-02-01", currency="EUR"),
            _span("euro", "20000", "2027-02-01", "2028-01-01", currency="EUR")]
    by_currency = retention(parse_period("2027-Q1"), book).by_currency
    table = parse_rates({"base": "USD", "rates": {"EUR": "1.5"}})
    whole = consolidated_retention(by_currency, basis(by_currency, table))
    assert whole is not None and whole.currency == "USD"
    # S = 150,000 + 10,000 x 1.5 = 165,000; churned 50,000; expansion 10,000 x 1.5 = 15,000.
    assert (whole.starting_arr, whole.churned_arr, whole.expansion_arr) == (Decimal("165000.00"),
                                                                          Decimal("50000.00"), Decimal("15000.00"))
    assert whole.grr == Decimal("0.6970") and whole.nrr == Decimal("0.7879")
    assert consolidated_retention(by_currency, basis(by_currency, None)) is None
    no_eur = basis(by_currency, parse_rates({"base": "USD", "rates": {"GBP": "1.2"}}))
    assert consolidated_retention(by_currency, no_eur) is None and no_eur.missing == ["EUR"]
