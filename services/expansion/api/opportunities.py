"""Opportunities: list (filter kind, stage, min_uplift), per account, and PATCH (stage, owner, notes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import Query
from sqlalchemy.ext.asyncio import AsyncSession

from services.expansion import queries
from services.expansion.api.context import Ctx, ExpansionContext
from services.expansion.api.models import Opportunity, OpportunityPatch, Stage
from services.expansion.domain import OPEN_STAGES, can_move, expires_at
from services.expansion.queries import OpportunityFilters
from shared import work_items
from shared.app import api_router
from shared.auth import ReadKey, WriteKey
from shared.db import Record
from shared.pagination import CursorParam, LimitParam, Page, time_keyed_page

router = api_router(prefix="/v1", tags=["opportunities"])


def opportunity_model(row: Record, *, ttl_days: int) -> Opportunity:
    return Opportunity(
        opportunity_id=row.opportunity_id, account_id=row.account_id, kind=row.kind, product=row.product,
        episode=row.episode, stage=row.stage, owner=row.owner, notes=row.notes,
        estimated_arr_uplift=row.estimated_arr_uplift, confidence=row.confidence, reason=row.reason,
        evidence_event_ids=list(row.evidence), as_of=row.as_of, created_at=row.created_at,
        updated_at=row.updated_at, closed_at=row.closed_at, currency=row.currency, progressed_at=row.progressed_at,
        expires_at=expires_at(row.progressed_at, ttl_days) if row.stage in OPEN_STAGES else None,
        closed_by=row.closed_by, close_reason=row.close_reason,
    )


async def _page(ctx: ExpansionContext, filters: OpportunityFilters, cursor: str | None, limit: int
                ) -> Page[Opportunity]:
    return await time_keyed_page(
        ctx.sessions, cursor, limit, key=lambda o: (o.created_at, o.opportunity_id),
        item=lambda row: opportunity_model(row, ttl_days=ctx.thresholds.opportunity_ttl_days),
        rows=lambda session, after, n: queries.list_opportunities(session, ctx.tables, filters=filters, after=after,
                                                                  limit=n))


@router.get("/opportunities", response_model=Page[Opportunity], summary="Opportunities, newest first")
async def list_opportunities(
    *,
    kind: str | None = Query(None, max_length=64, description="e.g. seat_limit, premium_feature_use"),
    stage: Stage | None = Query(None),
    min_uplift: Decimal | None = Query(None, ge=0, description="Estimated ARR uplift at least this."),
    limit: int = LimitParam,
    cursor: str | None = CursorParam,
    _: ReadKey,
    ctx: Ctx,
) -> Page[Opportunity]:
    return await _page(ctx, OpportunityFilters(kind=kind, stage=stage, min_uplift=min_uplift), cursor, limit)


@router.get("/accounts/{account_id}/opportunities", response_model=Page[Opportunity],
            summary="One account's opportunities, newest first")
async def account_opportunities(
    *,
    account_id: str,
    limit: int = LimitParam,
    cursor: str | None = CursorParam,
    _: ReadKey,
    ctx: Ctx,
) -> Page[Opportunity]:
    return await _page(ctx, OpportunityFilters(account_id=account_id), cursor, limit)


@router.patch("/opportunities/{opportunity_id}", response_model=Opportunity,
              summary="Move an opportunity along (stage), assign it (owner), annotate it (notes)")
async def patch_opportunity(opportunity_id: str, body: OpportunityPatch, _: WriteKey, ctx: Ctx) -> Opportunity:
    async def update(session: AsyncSession, row: Record, changes: dict[str, Any]) -> Record:
        if changes.get("stage") == row.stage:
            del changes["stage"]  # staying put keeps closed_at as it was
        return await queries.update_opportunity(session, ctx.tables, opportunity_id, changes=changes, at=ctx.clock())

    updated = await work_items.patch(ctx.sessions, ctx.tables.opportunities, opportunity_id, body,
                                     noun="opportunity", can_move=can_move, update=update)
    return opportunity_model(updated, ttl_days=ctx.thresholds.opportunity_ttl_days)
