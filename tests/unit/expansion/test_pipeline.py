"""The weighted pipeline: open opportunities x stage weight, expected to close at their expiry; settled
ones by outcome within a period; an expired one never counts as pipeline; currencies never mixed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.expansion.domain.pipeline import DEFAULT_STAGE_WEIGHTS, PipelineEntry, pipeline, stage_weights
from shared.periods import parse_period

pytestmark = pytest.mark.unit
NOW = datetime(2027, 1, 10, tzinfo=UTC)


def _entry(stage: str, uplift: str, *, opened_days_ago: float = 10, currency: str = "USD",
           closed_days_ago: float | None = None) -> PipelineEntry:
    closed = None if closed_days_ago is None else NOW - timedelta(days=closed_days_ago)
    return PipelineEntry(stage, currency, Decimal(uplift), NOW - timedelta(days=opened_days_ago), closed)


def test_open_opportunities_are_weighted_by_stage_and_grouped_by_expected_close() -> None:
    book = [_entry("open", "1000"), _entry("qualified", "2000", opened_days_ago=85),
            _entry("proposed", "500", opened_days_ago=0), _entry("won", "9999", closed_days_ago=1)]
    [usd] = pipeline(book, weights=DEFAULT_STAGE_WEIGHTS, ttl_days=90, as_of=NOW).values()
    assert (usd.total.count, usd.total.arr, usd.total.expected_arr) == (3, Decimal(3500), Decimal("1000.00"))
    assert usd.by_stage["qualified"].expected_arr == Decimal("600.00") and usd.by_stage["qualified"].weight == \
        Decimal("0.30")
    # Expected close = last progress + 90 days: 2027-01-15 and 2027-03-31 (Q1), 2027-04-10 (Q2).
    assert {k: b.count for k, b in usd.by_period.items()} == {"2027-Q1": 2, "2027-Q2": 1}
    assert usd.by_outcome == {}, "without a period, the settled ones are not pipeline"


def test_an_expired_one_is_not_pipeline_but_a_lost_outcome_at_its_expiry() -> None:
    book = [_entry("open", "1000", opened_days_ago=95), _entry("open", "10", opened_days_ago=1)]
    whole = pipeline(book, weights=DEFAULT_STAGE_WEIGHTS, ttl_days=90, as_of=NOW)["USD"]
    assert whole.total.count == 1 and whole.total.arr == Decimal(10)
    january = pipeline(book, weights=DEFAULT_STAGE_WEIGHTS, ttl_days=90, as_of=NOW,
                       period=parse_period("2027-01"))["USD"]
    assert january.by_outcome["lost"].arr == Decimal(1000) and january.by_outcome["lost"].expected_arr == 0
    assert january.by_stage == {}, "the fresh one is expected to close in April"


def test_a_period_takes_the_outcomes_settled_in_it_and_the_open_ones_expected_in_it() -> None:
    book = [_entry("won", "3000", closed_days_ago=5), _entry("dismissed", "700", closed_days_ago=3),
            _entry("won", "100", closed_days_ago=40), _entry("proposed", "1000", opened_days_ago=80)]
    [usd] = pipeline(book, weights=DEFAULT_STAGE_WEIGHTS, ttl_days=90, as_of=NOW,
                     period=parse_period("2027-Q1")).values()
    assert usd.by_outcome["won"].arr == Decimal(3000) and usd.by_outcome["won"].expected_arr == Decimal("3000.00")
    assert usd.by_outcome["dismissed"].expected_arr == 0
    assert usd.by_stage["proposed"].expected_arr == Decimal("600.00")
    assert usd.total.expected_arr == Decimal("3600.00") and usd.total.count == 3


def test_currencies_are_never_summed() -> None:
    book = [_entry("open", "1000", currency="EUR"), _entry("open", "1000"), _entry("open", "5", currency="EUR")]
    result = pipeline(book, weights=DEFAULT_STAGE_WEIGHTS, ttl_days=90, as_of=NOW)
    assert list(result) == ["EUR", "USD"]
    assert result["EUR"].total.arr == Decimal(1005) and result["USD"].total.arr == Decimal(1000)


def test_stage_weights_are_configurable_for_open_stages_only() -> None:
    assert stage_weights({"open": Decimal("0.2")})["open"] == Decimal("0.2")
    assert stage_weights({})["proposed"] == Decimal("0.60")
    with pytest.raises(ValueError, match="open stages"):
        stage_weights({"won": Decimal(1)})
    with pytest.raises(ValueError, match="between 0 and 1"):
        stage_weights({"open": Decimal("1.5")})
