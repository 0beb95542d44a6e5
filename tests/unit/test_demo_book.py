"""The demo summary's book-level lines (deploy/local/book.py): retention, the renewal forecast by
band and the weighted pipeline, per currency with the consolidated total or the reason there is none;
and the exchange-rate table the local run configures."""

from __future__ import annotations

from typing import Any

import pytest

from deploy.local.book import account_manager_moves, forecast_lines, pipeline_lines, retention_lines
from deploy.local.demo import FX_RATES
from shared.fx import load_rates

pytestmark = pytest.mark.unit

TABLE = {"currency": "USD", "reason": "consolidated in USD with the exchange-rate table (ORCHARD_FX_RATES)"}
NO_TABLE = {"currency": None, "reason": "no exchange-rate table is configured (ORCHARD_FX_RATES)"}


def _retention(consolidated: dict[str, Any] | None, basis: dict[str, Any]) -> dict[str, Any]:
    def currency(code: str, start: str, contraction: str, expansion: str, grr: float, nrr: float) -> dict[str, Any]:
        return {"currency": code, "starting_accounts": 2, "starting_arr": start, "churned_arr": "0",
                "contraction_arr": contraction, "expansion_arr": expansion, "grr": grr, "nrr": nrr}
    return {"period": "2026-Q3", "starting_accounts": 4, "logo_churn": 0.0, "consolidated": consolidated,
            "consolidation": basis, "by_currency": [currency("EUR", "414000", "61200", "0", 0.8522, 0.8522),
                                                    currency("USD", "100000", "0", "5000", 1.0, 1.05)]}


def test_retention_shows_each_currency_and_the_whole_book_when_consolidated() -> None:
    whole = {"currency": "USD", "starting_arr": "547120", "grr": 0.8792, "nrr": 0.8884}

    lines = retention_lines([_retention(whole, TABLE), {"period": "2026-Q2", "by_currency": []}])

    text = "\n".join(lines)
    assert "EUR" in text and "contraction    61,200" in text and "GRR  85.2%" in text
    assert "USD" in text and "NRR 105.0%" in text
    assert "all in USD: starting 547,120  GRR 87.9%  NRR 88.8%" in text
    assert lines[-1] == "  2026-Q2  no account had ARR on its first day"


def test_without_a_table_the_reason_is_said_instead_of_a_sum() -> None:
    text = "\n".join(retention_lines([_retention(None, NO_TABLE)]))

    assert "all in" not in text and "no consolidated total: no exchange-rate table" in text


def test_the_forecast_shows_each_band_with_its_probability_and_the_settled_renewals() -> None:
    def bucket(n: int, arr: str, p: str, expected: str) -> dict[str, Any]:
        return {"renewals": n, "arr": arr, "probability": p, "expected_arr": expected}
    forecast = {"period": "2026-Q4", "consolidation": NO_TABLE, "consolidated": None, "by_currency": [{
        "currency": "USD", "total": bucket(4, "219700", "", "150590"),
        "by_risk": {"critical": bucket(1, "10200", "0.25", "2550"), "low": bucket(1, "3100", "0.95", "2945")},
        "by_outcome": {"churned": bucket(1, "53100", "0", "0"), "renewed": bucket(1, "145200", "1", "145200")}}]}

    lines = forecast_lines([forecast])

    assert lines[0] == "  2026-Q4  USD: 4 renewals, 219,700 up for renewal, 150,590 expected"
    assert lines[1] == "      by risk: low 1: 3,100 x 0.95 = 2,945; critical 1: 10,200 x 0.25 = 2,550"
    assert lines[2] == "      settled: churned 1: 53,100 x 0.00 = 0; renewed 1: 145,200 x 1.00 = 145,200"
    assert len(lines) == 3, "one currency: nothing to consolidate, nothing to excuse"


def test_the_pipeline_is_weighted_by_stage_and_says_what_closed_this_quarter() -> None:
    def bucket(n: int, arr: str, weight: str | None, expected: str) -> dict[str, Any]:
        return {"opportunities": n, "arr": arr, "weight": weight, "expected_arr": expected}
    open_pipeline = {"consolidation": TABLE, "consolidated": {"currency": "USD", "arr": "3000", "expected_arr": "300"},
                     "by_currency": [{"currency": "USD", "total": bucket(2, "3000", None, "300"),
                                      "by_stage": {"open": bucket(2, "3000", "0.10", "300")},
                                      "by_period": {"2027-Q1": bucket(2, "3000", None, "300")}}]}
    quarter = {"period": "2026-Q4", "by_currency": [
        {"currency": "USD", "by_outcome": {"won": bucket(3, "13200", "1", "13200")}}]}

    lines = pipeline_lines(open_pipeline, quarter)

    assert lines[:3] == ["  open, USD: 2 opportunities, 3,000 a year, 300 weighted",
                         "      by stage: open 2: 3,000 x 0.10 = 300",
                         "      weighted, by expected close: 2027-Q1 300"]
    assert lines[3].startswith("    all in USD: 3,000 a year, 300 weighted")
    assert lines[4] == "  closed in 2026-Q4: USD won 3: 13,200 x 1.00 = 13,200"
    assert pipeline_lines({"by_currency": []}, {"period": "2026-Q4"}) == [
        "  no open opportunity", "  closed in 2026-Q4: none"]


def test_the_local_runs_exchange_rates_cover_the_samples_currencies() -> None:
    table = load_rates(str(FX_RATES))

    assert table is not None and table.base == "USD"
    assert {c for c in ("EUR", "GBP") if table.rate(c) is not None} == {"EUR", "GBP"}


def test_the_account_manager_moves_the_largest_open_seat_limit_and_high_satisfaction_opportunities() -> None:
    def opportunity(n: int, kind: str, uplift: str, stage: str = "open") -> dict[str, Any]:
        return {"opportunity_id": f"o{n}", "kind": kind, "estimated_arr_uplift": uplift, "stage": stage}
    book = [opportunity(1, "seat_limit", "1200"), opportunity(2, "seat_limit", "15120"),
            opportunity(3, "seat_limit", "90000", "won"), opportunity(4, "high_satisfaction", "3840"),
            opportunity(5, "whitespace", "52800")]

    moves = account_manager_moves(book)

    assert [(o["opportunity_id"], stage) for o, stage, _ in moves] == [("o2", "proposed"), ("o4", "qualified")]
    assert account_manager_moves([opportunity(5, "whitespace", "52800")]) == []
