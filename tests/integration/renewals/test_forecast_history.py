"""GET /v1/forecast over a real database: a risk band with enough closed renewals in the book's own
history (due before the period) is forecast with the share of them that renewed, and says so; a band
without enough keeps the default; renewals due inside the period never feed its own probabilities."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra import Infra
from tests.integration.renewals.harness import Input, running, settings_for
from tests.unit.renewals.factories import at, contract_envelope, health_changed, terms

pytestmark = pytest.mark.integration


def _history(account: str, outcome: str, *, renews: str = "2029-12-31") -> list[Input]:
    """A red account whose 2029 renewal closed two months before its date: renewed or cancelled."""
    closing: dict[str, Any] = (
        terms(f"{account}-c", start="2030-01-01", end="2030-12-31") if outcome == "renewed"
        else {"contract_id": f"{account}-c", "end_date": renews})
    return [
        contract_envelope(account, "signed", terms(f"{account}-c", start="2029-01-01", end=renews), on="2028-12-20"),
        health_changed(account, "red", 40, on=at("2029-06-01")),
        contract_envelope(account, outcome, closing, on="2029-10-01"),
    ]


async def test_band_probabilities_from_the_books_history(infra: Infra, schema: str, unique: str) -> None:
    book = [
        *_history("won-1", "renewed"), *_history("won-2", "renewed"), *_history("lost-1", "cancelled"),
        # Closed inside the forecast period: it must not count towards the period's own probabilities.
        contract_envelope("lost-2", "signed", terms("lost-2-c", start="2030-02-01", end="2031-01-31"), on="2030-01-20"),
        health_changed("lost-2", "red", 40, on=at("2030-06-01")),
        contract_envelope("lost-2", "cancelled", {"contract_id": "lost-2-c", "end_date": "2031-01-31"},
                          on="2030-11-01"),
        # Due in 2031-Q1 and at high risk: forecast with the book's figure.
        contract_envelope("due", "signed", terms("due-c", arr="30000", start="2030-03-01", end="2031-02-28"),
                          on="2030-02-20"),
        health_changed("due", "red", 40, on=at("2030-06-01")),
    ]
    settings = settings_for(infra, schema=schema, unique=unique, renewals_forecast_min_closed=3)
    async with running(settings) as renewals:
        await renewals.apply(book)
        closed = await renewals.rows("SELECT account_id, stage, risk FROM {s}.renewals WHERE stage <> 'open' "
                                     "ORDER BY account_id")
        assert [tuple(r) for r in closed] == [("lost-1", "churned", "high"), ("lost-2", "churned", "high"),
                                              ("won-1", "renewed", "high"), ("won-2", "renewed", "high")]
        reply = await renewals.http.get("/v1/forecast", params={"period": "2031-Q1"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    high = body["band_probabilities"]["high"]
    assert (high["source"], high["closed"], high["renewed"], high["probability"]) == ("history", 3, 2, 0.6667)
    assert high["detail"] == "2 of the book's 3 closed renewals last judged high renewed"
    critical = body["band_probabilities"]["critical"]
    assert (critical["source"], critical["probability"]) == ("default", 0.25)
    (usd,) = body["by_currency"]
    assert usd["by_risk"]["high"]["expected_arr"] == "20001.00" and usd["by_risk"]["high"]["probability"] == 0.6667
    assert usd["by_outcome"]["churned"]["renewals"] == 1
