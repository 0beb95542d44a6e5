"""Renewals: list (filter due_within_days, risk, stage), an account's next renewal(s), and PATCH
(stage, owner, notes)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Query
from sqlalchemy.ext.asyncio import AsyncSession

from services.renewals import queries
from services.renewals.api.context import Ctx
from services.renewals.api.models import AccountRenewals, Renewal, RenewalPatch, RiskBand, Stage
from services.renewals.domain import can_move, shown_stage, window_opens_on
from services.renewals.queries import RenewalFilters
from shared import work_items
from shared.app import api_router
from shared.auth import ReadKey, WriteKey
from shared.db import Record
from shared.errors import ApiError
from shared.pagination import (
    CursorParam,
    LimitParam,
    Page,
    date_key_cursor,
    date_key_position,
    decode_cursor,
    page_of,
)

router = api_router(prefix="/v1", tags=["renewals"])


def renewal_model(row: Record, *, today: date, window_days: int) -> Renewal:
    return Renewal(
        renewal_id=row.renewal_id, account_id=row.account_id, contract_id=row.contract_id,
        term_start=row.term_start, renewal_date=row.renewal_date,
        window_opens_on=window_opens_on(row.renewal_date, window_days),
        days_to_renewal=(row.renewal_date - today).days,
        stage=shown_stage(row.stage, row.renewal_date, today=today, window_days=window_days),
        owner=row.owner, notes=row.notes, arr=row.arr, currency=row.currency, seats=row.seats,
        products=list(row.products), auto_renew=row.auto_renew, segment=row.segment, risk=row.risk,
        risk_reasons=row.risk_reasons, health_score=row.health_score, health_grade=row.health_grade,
        alert_severity=row.alert_severity, updated_at=row.updated_at,
    )


@router.get("/renewals", response_model=Page[Renewal], summary="Renewals, soonest first")
async def list_renewals(
    *,
    due_within_days: int | None = Query(None, ge=0, le=3650, description="Renewal date from today to today + N."),
    risk: RiskBand | None = Query(None),
    stage: Stage | None = Query(None),
    limit: int = LimitParam,
    cursor: str | None = CursorParam,
    _: ReadKey,
    ctx: Ctx,
) -> Page[Renewal]:
    today = ctx.clock().date()
    filters = RenewalFilters(today=today, window_days=ctx.window_days, due_within_days=due_within_days, risk=risk,
                             stage=stage)
    async with ctx.sessions() as session:
        rows = await queries.list_renewals(session, ctx.tables, filters=filters,
                                           after=date_key_position(decode_cursor(cursor)), limit=limit + 1)
    return page_of(rows, limit=limit, item=lambda row: renewal_model(row, today=today, window_days=ctx.window_days),
                   cursor=lambda r: date_key_cursor(r.renewal_date, r.renewal_id))


@router.get("/accounts/{account_id}/renewal", response_model=AccountRenewals,
            summary="The account's next renewal(s): those not yet renewed or churned, soonest first")
async def account_renewal(account_id: str, _: ReadKey, ctx: Ctx) -> AccountRenewals:
    today = ctx.clock().date()
    filters = RenewalFilters(today=today, window_days=ctx.window_days, account_id=account_id, pending_only=True)
    async with ctx.sessions() as session:
        rows = await queries.list_renewals(session, ctx.tables, filters=filters, after=None, limit=500)
    if not rows:
        raise ApiError(404, f"no open renewal for account {account_id}")
    return AccountRenewals(account_id=account_id,
                           renewals=[renewal_model(r, today=today, window_days=ctx.window_days) for r in rows])


@router.patch("/renewals/{renewal_id}", response_model=Renewal,
              summary="Move a renewal along (stage), assign it (owner), annotate it (notes)")
async def patch_renewal(renewal_id: str, body: RenewalPatch, _: WriteKey, ctx: Ctx) -> Renewal:
    now = ctx.clock()

    async def update(session: AsyncSession, row: Record, changes: dict[str, Any]) -> Record:
        return await work_items.update_item(session, ctx.tables.renewals, renewal_id, {**changes, "updated_at": now})

    updated = await work_items.patch(ctx.sessions, ctx.tables.renewals, renewal_id, body, noun="renewal",
                                     can_move=can_move, update=update)
    return renewal_model(updated, today=now.date(), window_days=ctx.window_days)
