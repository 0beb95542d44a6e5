"""The weighted expansion pipeline and its forecast, by stage and by period (`domain.pipeline`),
per currency with a consolidated total beside when an exchange-rate table is configured."""

from __future__ import annotations

from datetime import datetime

from fastapi import Query

from services.expansion import queries
from services.expansion.api.context import Ctx
from services.expansion.api.models import (
    ConsolidatedPipeline,
    CurrencyPipeline,
    Pipeline,
    PipelineBucket,
)
from services.expansion.domain.pipeline import OUTCOME_WEIGHTS, pipeline
from shared.app import api_router
from shared.auth import ReadKey
from shared.errors import ApiError
from shared.periods import PeriodReport, consolidated_totals, quarter_of, requested_period, utc_day

router = api_router(prefix="/v1", tags=["pipeline"])


@router.get("/pipeline", response_model=Pipeline, summary="The weighted expansion pipeline, by stage and by period",
            description="Open opportunities count their estimated uplift x their stage's weight "
                        "(`ORCHARD_EXPANSION_STAGE_WEIGHTS`) and are expected to close by their `expires_at`; with a "
                        "`period`, only those and the ones won, lost or dismissed in it count. The renewal forecast "
                        "of the same period is the renewals service's `GET /v1/forecast`, in the same shape.")
async def expansion_pipeline(
    *,
    period: str | None = Query(None, max_length=16,
                               description="A quarter (2027-Q1), a month (2027-01) or a year (2027); none: all open."),
    as_of: datetime | None = Query(None, description="Judge expiry at this time instead of now (with an offset)."),
    _: ReadKey,
    ctx: Ctx,
) -> Pipeline:
    span = None if period is None else requested_period(period)
    if as_of is not None and (as_of.utcoffset() is None or not 1900 <= as_of.year <= 9000):
        problem = "as_of needs a UTC offset and a year from 1900 to 9000"
        raise ApiError(400, problem, details=[{"loc": "query.as_of", "msg": problem}])
    judged_at = as_of or ctx.clock()
    async with ctx.sessions() as session:
        entries = await queries.pipeline_entries(session, ctx.tables, closed_since=None if span is None else span.start)
    result = pipeline(entries, weights=ctx.stage_weights, ttl_days=ctx.thresholds.opportunity_ttl_days,
                      as_of=judged_at, period=span)
    consolidation, totals = consolidated_totals({c: p.total for c, p in result.items()}, ctx.exchange_rates)
    return Pipeline(
        period=None if span is None else span.label, start=None if span is None else span.start,
        end=None if span is None else span.end, as_of=judged_at, stage_weights=dict(ctx.stage_weights),
        outcome_weights=dict(OUTCOME_WEIGHTS), opportunity_ttl_days=ctx.thresholds.opportunity_ttl_days,
        by_currency=[
            CurrencyPipeline(currency=c.currency, total=PipelineBucket.of(c.total),
                             by_stage={k: PipelineBucket.of(b) for k, b in c.by_stage.items()},
                             by_outcome={k: PipelineBucket.of(b) for k, b in c.by_outcome.items()},
                             by_period={k: PipelineBucket.of(b) for k, b in c.by_period.items()})
            for c in result.values()
        ],
        consolidated=None if totals is None else
        ConsolidatedPipeline(currency=totals.currency, arr=totals.arr, expected_arr=totals.expected_arr),
        consolidation=consolidation,
        renewal_forecast=PeriodReport(
            service="renewals", path=f"/v1/forecast?period={(span or quarter_of(utc_day(judged_at))).label}"),
    )

