"""The CLI's pure parts: reading and batching event files, and the report's figures."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from cli.errors import BadFile
from cli.events_file import BODY_OVERHEAD, Line, batches, read_events, request_body, typed_cell
from cli.report import charts
from cli.report.figures import (
    ReportData,
    forecast_periods,
    grade_on,
    grade_trend,
    retention_periods,
    score_series,
    signal_rows,
)
from cli.report.page import render_report, script_json

pytestmark = pytest.mark.unit


def lines(*sizes: int) -> list[Line]:
    return [Line(n + 1, b"x" * size) for n, size in enumerate(sizes)]


def test_batches_stay_within_the_event_count_and_the_body_size() -> None:
    cut = list(batches(lines(*[10] * 7), max_events=3, max_bytes=10_000))
    assert [[line.number for line in b] for b in cut] == [[1, 2, 3], [4, 5, 6], [7]]

    limit = BODY_OVERHEAD + 10 + 1 + 10  # exactly two 10-byte events and a comma
    cut = list(batches(lines(10, 10, 10, 50, 10), max_events=1000, max_bytes=limit))
    assert [[line.number for line in b] for b in cut] == [[1, 2], [3], [4], [5]], "too big to share: alone"
    assert all(len(request_body(b)) <= limit for b in cut if len(b) > 1)


def test_request_body_is_the_batch_envelope() -> None:
    body = request_body([Line(1, b'{"a":1}'), Line(2, b'{"b":2}')])
    assert json.loads(body) == {"events": [{"a": 1}, {"b": 2}]}


@pytest.mark.parametrize(("cell", "types", "value"), [
    ("12", {"integer"}, 12),
    ("2.5", {"number"}, 2.5),
    ("12", {"string"}, "12"),  # an id that looks like a number stays text
    ("true", {"boolean"}, True),
    ("core;analytics", {"array"}, ["core", "analytics"]),
    ('["core"]', {"array"}, ["core"]),
    ("null", {"string", "null"}, None),
    ("many", {"integer"}, "many"),  # left for ingest to reject with the field's own error
    ("120000", {"number", "string"}, "120000"),  # money may be a decimal string: kept exact
])
def test_csv_cells_take_the_type_of_their_field(cell: str, types: set[str], value: object) -> None:
    assert typed_cell(cell, types) == value


def test_csv_rows_keep_their_line_numbers_across_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text('event_id,type,account_id,data.summary,data.channel\n'
                    'e1,interaction.logged,a1,"two\nlines",call\n'
                    'e2,interaction.logged,a1,one,call\n')
    read = list(read_events(path, "csv"))
    assert [line.number for line in read] == [3, 4]
    assert json.loads(read[0].raw)["data"] == {"summary": "two\nlines", "channel": "call"}


def test_unknown_csv_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("event_id,colour\ne1,red\n")
    with pytest.raises(BadFile, match="colour"):
        list(read_events(path, "csv"))


def entry(at: str, grade: str, previous: str | None, score: float = 50.0) -> dict[str, object]:
    return {"as_of": at, "grade": grade, "previous_grade": previous, "score": score}


def test_an_accounts_grade_on_a_day_comes_from_the_history_in_the_window() -> None:
    history = [entry("2026-11-10T12:00:00+00:00", "yellow", "green"), entry("2026-11-20T08:00:00+00:00", "red",
                                                                             "yellow")]
    assert grade_on(history, "red", date(2026, 11, 9)) == "green", "before the first change: its previous grade"
    assert grade_on(history, "red", date(2026, 11, 10)) == "yellow"
    assert grade_on(history, "red", date(2026, 11, 25)) == "red"
    assert grade_on([], "yellow", date(2026, 11, 1)) == "yellow", "no change in the window: as now"
    assert grade_on([entry("2026-11-10T12:00:00+00:00", "green", None)], "green", date(2026, 11, 1)) is None


def test_the_grade_trend_counts_accounts_per_grade_per_day() -> None:
    accounts = [{"account_id": "a", "grade": "red"}, {"account_id": "b", "grade": "green"}]
    histories = {"a": [entry("2026-11-02T00:00:00+00:00", "red", "green")]}
    trend = grade_trend(accounts, histories, [date(2026, 11, 1), date(2026, 11, 2)])
    assert trend == {"green": [2, 1], "yellow": [0, 0], "red": [0, 1]}


def test_a_score_series_ends_at_the_current_score() -> None:
    times, scores = score_series([entry("2026-11-02T00:00:00+00:00", "red", "green", 30.0)],
                                 {"as_of": "2026-11-05T00:00:00+00:00", "score": 25.04})
    assert scores == [30.0, 25.0] and times[-1].startswith("2026-11-05")


def test_periods_cross_the_year_boundary() -> None:
    december = datetime(2026, 12, 5, tzinfo=UTC)
    assert forecast_periods(december) == ["2026-Q4", "2027-Q1"]
    assert retention_periods(datetime(2027, 2, 1, tzinfo=UTC)) == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]


def test_signal_rows_read_the_benchmark_summary_and_a_single_backtest() -> None:
    summary = {"data_sets": [{"data_set": "x", "auc_score": 0.7, "extra": 1}]}
    assert signal_rows(summary)[0]["auc_score"] == 0.7 and "extra" not in signal_rows(summary)[0]
    single = {"dataset": {"name": "mine"}, "ranking": {"accounts": 10, "churn_rate": 0.2,
                                                       "auc": {"score": 0.8, "baseline": 0.75, "events_30d": 0.6}},
              "alerts": {"precision": {"precision": 0.5}, "recall": {"recall": 0.4}, "lead_days": {"median": 30},
                         "per_account_quarter": 0.3}}
    [row] = signal_rows(single)
    assert (row["data_set"], row["auc_score"], row["alert_precision"], row["median_lead_days"]) == ("mine", 0.8, 0.5,
                                                                                                   30)
    assert signal_rows({"something": "else"}) == []


def test_chart_data_cannot_close_its_script_element() -> None:
    text = script_json({"label": "</script><script>alert(1)</script> & more"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"label": "</script><script>alert(1)</script> & more"}


def _bucket(arr: str, expected: str) -> dict[str, object]:
    return {"renewals": 1, "arr": arr, "expected_arr": expected}


FORECAST = {"period": "2026-Q4", "by_currency": [{
    "currency": "USD", "total": {"renewals": 3, "arr": "208500", "expected_arr": "147750"},
    "by_risk": {"critical": _bucket("10200", "2550")},
    "by_outcome": {"renewed": _bucket("145200", "145200"), "churned": _bucket("53100", "0")}}]}


def test_the_forecast_chart_shows_settled_renewals_beside_the_bands() -> None:
    chart = charts.forecast([FORECAST], "USD")

    up = {t["name"]: t["y"] for t in chart["data"] if t["showlegend"]}
    assert up == {"low": [0.0], "medium": [0.0], "high": [0.0], "critical": [10200.0], "renewed": [145200.0],
                  "churned": [53100.0]}, "every ARR up for renewal is drawn, settled or not"
    expected = {t["name"]: t["y"] for t in chart["data"] if not t["showlegend"]}
    assert expected["renewed"] == [145200.0] and expected["churned"] == [0.0]


def test_the_report_shows_the_weighted_pipeline_and_the_consolidated_totals() -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    basis = {"currency": "USD", "reason": "consolidated in USD with the exchange-rate table (ORCHARD_FX_RATES)"}
    retention = {"period": "2026-Q3", "starting_accounts": 3, "definitions": "", "consolidation": basis,
                 "consolidated": {"currency": "USD", "starting_arr": "1000", "churned_arr": "0",
                                  "contraction_arr": "100", "expansion_arr": "50", "grr": 0.9, "nrr": 0.95},
                 "by_currency": [{"currency": c, "starting_accounts": 1, "starting_arr": "500", "churned_arr": "0",
                                  "contraction_arr": "0", "expansion_arr": "0", "grr": 1.0, "nrr": 1.0}
                                 for c in ("EUR", "USD")]}
    weighted = {"consolidation": basis, "consolidated": {"currency": "USD", "arr": "3000", "expected_arr": "1250"},
                "by_currency": [{"currency": "USD",
                                 "total": {"opportunities": 2, "arr": "3000", "expected_arr": "1250"},
                                 "by_stage": {"open": {"opportunities": 1, "arr": "500", "weight": "0.10",
                                                       "expected_arr": "50"},
                                              "proposed": {"opportunities": 1, "arr": "2000", "weight": "0.60",
                                                           "expected_arr": "1200"}}}]}
    opportunity = {"account_id": "a", "kind": "seat_limit", "product": "core", "stage": "proposed",
                   "estimated_arr_uplift": "2000", "confidence": 0.5, "reason": "r"}

    page = render_report(ReportData(generated_at=now, retention=[retention], weighted_pipeline=weighted,
                                    opportunities=[opportunity]))

    assert "Weighted pipeline" in page and "<td>proposed</td><td>USD</td>" in page
    assert '<td class="num">0.60</td><td class="num">1,200</td>' in page
    assert "<td>all in USD</td>" in page and "90.0%" in page and "95.0%" in page
    assert "GRR / NRR 2026-Q3 (all currencies in USD)" in page
