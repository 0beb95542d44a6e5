"""The book-level lines of the demo's summary: retention, the renewal forecast and the expansion
pipeline, from the services' answers (renewals' ``GET /v1/metrics/retention`` and ``GET /v1/forecast``,
expansion's ``GET /v1/pipeline``). Plain data in, lines of text out: no I/O, no clock.

Money stays per currency, as the services give it; a consolidated line follows when the services
have an exchange-rate table (``ORCHARD_FX_RATES``), else the services' reason why not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from cli.report.figures import amount
from cli.report.page import percent

Json = Mapping[str, Any]
BANDS = ("low", "medium", "high", "critical")


def money(value: Any) -> str:
    return f"{amount(value):,.0f}"


def account_manager_moves(opportunities: Iterable[Json]) -> list[tuple[Json, str, str]]:
    """What the demo's account manager does next (opportunity, stage, note): proposes the largest open
    seat-limit opportunity and qualifies the largest open high-satisfaction one, so that the pipeline
    weighs more than one stage."""
    still_open = [o for o in opportunities if o.get("stage") == "open"]
    moves = []
    for kind, stage, note in (("seat_limit", "proposed", "quote sent for the seats proposed"),
                              ("high_satisfaction", "qualified", "call booked with the sponsor")):
        candidates = [o for o in still_open if o.get("kind") == kind]
        if candidates:
            moves.append((max(candidates, key=lambda o: amount(o.get("estimated_arr_uplift"))), stage, note))
    return moves


def _consolidated(report: Json, line: str) -> list[str]:
    basis = report.get("consolidation") or {}
    if report.get("consolidated") is not None:
        return [f"    {line}  ({basis.get('reason', '')})"]
    return [f"    no consolidated total: {basis['reason']}"] if len(report.get("by_currency") or []) > 1 else []


def retention_lines(reports: Iterable[Json]) -> list[str]:
    """Per quarter, each currency's GRR and NRR with the ARR they come from, then the whole book's."""
    lines = []
    for report in reports:
        currencies = report.get("by_currency") or []
        if not currencies:
            lines.append(f"  {report['period']}  no account had ARR on its first day")
            continue
        churn = f"logo churn {percent(report.get('logo_churn'))} of {report['starting_accounts']} accounts"
        lines.append(f"  {report['period']}  {churn}")
        for c in currencies:
            lines.append(
                f"    {c['currency']}  {c['starting_accounts']:>2} accounts  starting {money(c['starting_arr']):>11}  "
                f"churned {money(c['churned_arr']):>9}  contraction {money(c['contraction_arr']):>9}  "
                f"expansion {money(c['expansion_arr']):>9}  GRR {percent(c['grr']):>6}  NRR {percent(c['nrr']):>6}"
            )
        total = report.get("consolidated") or {}
        lines += _consolidated(report, f"all in {total.get('currency')}: starting {money(total.get('starting_arr', 0))}"
                                       f"  GRR {percent(total.get('grr'))}  NRR {percent(total.get('nrr'))}")
    return lines


def _bucket(name: str, bucket: Json, weight_key: str, count_key: str) -> str:
    weight = bucket.get(weight_key)
    times = f" x {Decimal(str(weight)):.2f}" if weight is not None else ""
    return (f"{name} {bucket[count_key]}: {money(bucket['arr'])}{times} = {money(bucket['expected_arr'])}")


def forecast_lines(forecasts: Iterable[Json]) -> list[str]:
    """Per period and currency: the renewals due, their ARR and the expected ARR, by risk band (each
    with its probability) and by outcome for the ones already renewed or churned."""
    lines = []
    for forecast in forecasts:
        currencies = forecast.get("by_currency") or []
        if not currencies:
            lines.append(f"  {forecast['period']}  no renewal due")
            continue
        for c in currencies:
            total = c["total"]
            lines.append(f"  {forecast['period']}  {c['currency']}: {total['renewals']} renewals, "
                         f"{money(total['arr'])} up for renewal, {money(total['expected_arr'])} expected")
            bands = [_bucket(band, c["by_risk"][band], "probability", "renewals")
                     for band in BANDS if band in c.get("by_risk", {})]
            outcomes = [_bucket(outcome, bucket, "probability", "renewals")
                        for outcome, bucket in sorted(c.get("by_outcome", {}).items())]
            lines += [f"      by risk: {'; '.join(bands)}"] if bands else []
            lines += [f"      settled: {'; '.join(outcomes)}"] if outcomes else []
        total = forecast.get("consolidated") or {}
        lines += _consolidated(forecast, f"all in {total.get('currency')}: {money(total.get('arr', 0))} up for "
                                         f"renewal, {money(total.get('expected_arr', 0))} expected")
    return lines


def pipeline_lines(open_pipeline: Json, this_quarter: Json) -> list[str]:
    """The open pipeline per currency, weighted by stage, with its expected close by quarter; then
    what was won or lost in the current quarter."""
    lines = []
    for c in open_pipeline.get("by_currency") or []:
        total = c["total"]
        lines.append(f"  open, {c['currency']}: {total['opportunities']} opportunities, {money(total['arr'])} a year, "
                     f"{money(total['expected_arr'])} weighted")
        stages = [_bucket(stage, bucket, "weight", "opportunities") for stage, bucket in c.get("by_stage", {}).items()]
        closing = [f"{period} {money(bucket['expected_arr'])}" for period, bucket in c.get("by_period", {}).items()]
        lines += [f"      by stage: {'; '.join(stages)}"] if stages else []
        lines += [f"      weighted, by expected close: {', '.join(closing)}"] if closing else []
    if not lines:
        lines.append("  no open opportunity")
    total = open_pipeline.get("consolidated") or {}
    lines += _consolidated(open_pipeline, f"all in {total.get('currency')}: {money(total.get('arr', 0))} a year, "
                                          f"{money(total.get('expected_arr', 0))} weighted")
    settled = [f"{c['currency']} " + "; ".join(_bucket(outcome, bucket, "weight", "opportunities")
                                               for outcome, bucket in sorted(c.get("by_outcome", {}).items()))
               for c in this_quarter.get("by_currency") or [] if c.get("by_outcome")]
    lines.append(f"  closed in {this_quarter.get('period')}: " + (" | ".join(settled) if settled else "none"))
    return lines
