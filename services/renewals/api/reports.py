"""The forecast and retention of a period (`2027-Q1`, `2027-01` or `2027`), per currency, with a
consolidated figure beside when an exchange-rate table is configured (`shared.fx`)."""

from __future__ import annotations

from fastapi import Query

from services.renewals import domain, queries
from services.renewals.api.context import Ctx
from services.renewals.api.models import (
    BandProbability,
    ConsolidatedForecast,
    ConsolidatedRetention,
    CurrencyForecast,
    CurrencyRetention,
    Forecast,
    ForecastBucket,
    Retention,
)
from shared.app import api_router
from shared.auth import ReadKey
from shared.fx import basis
from shared.periods import PeriodReport, consolidated_totals, requested_period

router = api_router(prefix="/v1", tags=["reports"])

PeriodParam = Query(..., max_length=16, description="A quarter (2027-Q1), a month (2027-01) or a year (2027).")


@router.get("/forecast", response_model=Forecast, summary="Expected renewal ARR of a period, by risk band",
            description="Each band's probability is the book's own (the share of its closed renewals last judged "
                        "in that band that renewed, from renewals due before the period) once the band has "
                        "`ORCHARD_RENEWALS_FORECAST_MIN_CLOSED` of them, else the default; `band_probabilities` "
                        "says which.")
async def renewal_forecast(*, period: str = PeriodParam, _: ReadKey, ctx: Ctx) -> Forecast:
    span = requested_period(period)
    async with ctx.sessions() as session:
        due = await queries.due_renewals(session, ctx.tables, span)
        history = await queries.closed_by_band(session, ctx.tables, before=span.start)
    bands = domain.band_probabilities(history, min_closed=ctx.forecast_min_closed)
    by_risk = {band: b.probability for band, b in bands.items()}
    result = domain.forecast(span, due, by_risk=by_risk)
    consolidation, totals = consolidated_totals({c: f.total for c, f in result.items()}, ctx.exchange_rates)
    return Forecast(
        period=span.label, start=span.start, end=span.end,
        probabilities={**by_risk, **domain.PROBABILITY_BY_STAGE},
        band_probabilities={band: BandProbability(**vars(b)) for band, b in bands.items()},
        by_currency=[
            CurrencyForecast(currency=c.currency, total=ForecastBucket.of(c.total),
                             by_risk={k: ForecastBucket.of(b) for k, b in c.by_risk.items()},
                             by_outcome={k: ForecastBucket.of(b) for k, b in c.by_outcome.items()})
            for c in result.values()
        ],
        consolidated=None if totals is None else
        ConsolidatedForecast(currency=totals.currency, renewals=sum(f.total.count for f in result.values()),
                             arr=totals.arr, expected_arr=totals.expected_arr),
        consolidation=consolidation,
        expansion_pipeline=PeriodReport(service="expansion", path=f"/v1/pipeline?period={span.label}"),
    )


@router.get("/metrics/retention", response_model=Retention, summary="GRR, NRR and logo churn of a period")
async def retention_metrics(*, period: str = PeriodParam, _: ReadKey, ctx: Ctx) -> Retention:
    span = requested_period(period)
    async with ctx.sessions() as session:
        spans = await queries.spans_around(session, ctx.tables, span)
    result = domain.retention(span, spans)
    consolidation = basis(result.by_currency, ctx.exchange_rates)
    consolidated = domain.consolidated_retention(result.by_currency, consolidation)
    return Retention(
        period=span.label, start=span.start, end=span.end, starting_accounts=result.starting_accounts,
        churned_accounts=result.churned_accounts, logo_churn=result.logo_churn,
        by_currency=[CurrencyRetention(**vars(c)) for c in result.by_currency.values()],
        consolidated=None if consolidated is None else ConsolidatedRetention(**vars(consolidated)),
        consolidation=consolidation,
        definitions=domain.RETENTION_DEFINITIONS,
    )
