"""The forecast and retention of a period (`2027-Q1`, `2027-01` or `2027`), per currency."""

from __future__ import annotations

from fastapi import Depends, Query

from services.renewals import domain, queries
from services.renewals.api.context import RenewalsContext, context
from services.renewals.api.models import (
    CurrencyForecast,
    CurrencyRetention,
    Forecast,
    ForecastBucket,
    Retention,
)
from services.renewals.domain.forecast import Bucket
from shared.app import api_router
from shared.auth import require_scope
from shared.errors import ApiError

router = api_router(prefix="/v1", tags=["reports"])

PeriodParam = Query(..., max_length=16, description="A quarter (2027-Q1), a month (2027-01) or a year (2027).")


def _period(label: str) -> domain.Period:
    try:
        return domain.parse_period(label)
    except ValueError as exc:
        raise ApiError(400, str(exc), details=[{"loc": "query.period", "msg": str(exc)}]) from exc


def _bucket(bucket: Bucket) -> ForecastBucket:
    return ForecastBucket(renewals=bucket.renewals, arr=bucket.arr, expected_arr=bucket.expected_arr,
                          probability=bucket.probability)


@router.get("/forecast", response_model=Forecast, summary="Expected renewal ARR of a period, by risk band")
async def renewal_forecast(
    period: str = PeriodParam, _: str = Depends(require_scope("read")), ctx: RenewalsContext = Depends(context)
) -> Forecast:
    span = _period(period)
    async with ctx.sessions() as session:
        due = await queries.due_renewals(session, ctx.tables, span)
    result = domain.forecast(span, due)
    return Forecast(
        period=span.label, start=span.start, end=span.end,
        probabilities={**domain.PROBABILITY_BY_RISK, **domain.PROBABILITY_BY_STAGE},
        by_currency=[
            CurrencyForecast(currency=c.currency, total=_bucket(c.total),
                             by_risk={k: _bucket(b) for k, b in c.by_risk.items()},
                             by_outcome={k: _bucket(b) for k, b in c.by_outcome.items()})
            for c in result.values()
        ],
    )


@router.get("/metrics/retention", response_model=Retention, summary="GRR, NRR and logo churn of a period")
async def retention_metrics(
    period: str = PeriodParam, _: str = Depends(require_scope("read")), ctx: RenewalsContext = Depends(context)
) -> Retention:
    span = _period(period)
    async with ctx.sessions() as session:
        spans = await queries.spans_around(session, ctx.tables, span)
    result = domain.retention(span, spans)
    return Retention(
        period=span.label, start=span.start, end=span.end, starting_accounts=result.starting_accounts,
        churned_accounts=result.churned_accounts, logo_churn=result.logo_churn,
        by_currency=[CurrencyRetention(**vars(c)) for c in result.by_currency.values()],
        definitions=domain.RETENTION_DEFINITIONS,
    )
