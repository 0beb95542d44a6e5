"""The exchange-rate table (ORCHARD_FX_RATES): inline JSON or a YAML file, validated at start; a
consolidated figure only when every currency involved has a rate, and why not otherwise."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from shared.fx import NO_TABLE, basis, consolidate, load_rates, parse_rates
from shared.settings import OrchardSettings

pytestmark = pytest.mark.unit
TABLE = parse_rates({"base": "USD", "as_of": "2027-01-01", "rates": {"EUR": "1.10", "GBP": 1.25}})


def test_consolidates_with_the_rates_and_says_so() -> None:
    used = basis(["USD", "EUR"], TABLE)
    assert used.consolidated and used.rates == {"EUR": Decimal("1.10"), "USD": Decimal(1)}
    assert "2027-01-01" in used.reason and "USD" in used.reason
    assert consolidate({"USD": Decimal(100), "EUR": Decimal("200.005")}, used) == Decimal("320.01")


def test_no_table_or_a_missing_rate_gives_no_figure_and_the_reason() -> None:
    none = basis(["USD"], None)
    assert not none.consolidated and none.reason == NO_TABLE and consolidate({"USD": Decimal(1)}, none) is None
    partial = basis(["USD", "JPY"], TABLE)
    assert not partial.consolidated and partial.missing == ["JPY"] and "JPY" in partial.reason
    assert consolidate({"USD": Decimal(1), "JPY": Decimal(100)}, partial) is None


def test_loads_inline_json_or_a_yaml_file_and_rejects_bad_tables(tmp_path: Path) -> None:
    assert load_rates("") is None
    assert load_rates('{"base": "EUR", "rates": {"USD": "0.9"}}') == parse_rates({"base": "EUR",
                                                                                  "rates": {"USD": "0.9"}})
    path = tmp_path / "fx.yaml"
    path.write_text("base: USD\nrates:\n  EUR: '1.10'\n  GBP: 1.25\nas_of: '2027-01-01'\n")
    assert load_rates(str(path)) == TABLE
    for bad in ('{"base": "USD"}', '{"base": "usd", "rates": {"EUR": 1}}', '{"base": "USD", "rates": {"EUR": 0}}',
                "{not json", str(tmp_path / "missing.yaml")):
        with pytest.raises(ValueError):
            load_rates(bad)
    with pytest.raises(ValueError, match="invalid exchange-rate table"):
        OrchardSettings(fx_rates='{"base": "USD", "rates": {"EUR": "-1"}}')
