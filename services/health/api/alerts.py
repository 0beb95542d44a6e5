"""Churn-risk alerts: list them, read one, acknowledge one ("addressed", with who and a note)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from fastapi import Depends, Query

from services.health import queries
from services.health.api.context import HealthContext, context
from services.health.api.models import AckIn, Alert, Reason
from services.health.queries import Record
from shared.app import api_router
from shared.auth import require_scope
from shared.db import unit_of_work
from shared.errors import ApiError
from shared.pagination import (
    CursorParam,
    LimitParam,
    Page,
    decode_cursor,
    time_key_cursor,
    time_key_position,
)

router = api_router(prefix="/v1/alerts", tags=["alerts"])


def alert_model(row: Record) -> Alert:
    payload = row.payload
    renewal = payload.get("renewal_date")
    arr = payload.get("arr_at_risk")
    return Alert(
        alert_id=row.alert_id, account_id=row.account_id, kind=row.kind, severity=row.severity,
        status=row.status, episode_start=row.episode_start, raised_at=row.raised_at, updated_at=row.updated_at,
        resolved_at=row.resolved_at, score=payload.get("score"), previous_score=payload.get("previous_score"),
        grade=payload.get("grade"), reasons=[Reason(**r) for r in payload.get("reasons", [])],
        renewal_date=date.fromisoformat(renewal) if renewal else None,
        days_to_renewal=payload.get("days_to_renewal"), arr_at_risk=Decimal(arr) if arr is not None else None,
        churn_probability=payload.get("churn_probability"), kind_precision=payload.get("kind_precision"),
        acknowledged=row.acknowledged_at is not None, acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at, acknowledged_note=row.acknowledged_note,
    )


@router.get("", response_model=Page[Alert], summary="Churn-risk alerts, most recently raised first")
async def list_alerts(
    status: Literal["open", "resolved"] | None = Query(None),
    kind: str | None = Query(None, max_length=64, description="e.g. grade_red, score_drop, champion_left"),
    account_id: str | None = Query(None, max_length=128),
    severity: Literal["low", "medium", "high", "critical"] | None = Query(None),
    limit: int = LimitParam,
    cursor: str | None = CursorParam,
    _: str = Depends(require_scope("read")),
    ctx: HealthContext = Depends(context),
) -> Page[Alert]:
    after = time_key_position(decode_cursor(cursor), str)
    filters = queries.AlertFilters(status=status, kind=kind, account_id=account_id, severity=severity)
    async with ctx.sessions() as session:
        rows = await queries.alerts(session, ctx.tables, filters=filters, after=after, limit=limit + 1)
    items = [alert_model(r) for r in rows[:limit]]
    more = len(rows) > limit
    next_cursor = time_key_cursor(items[-1].raised_at, items[-1].alert_id) if more else None
    return Page[Alert](items=items, next_cursor=next_cursor)


@router.get("/{alert_id}", response_model=Alert, summary="One alert")
async def get_alert(
    alert_id: str, _: str = Depends(require_scope("read")), ctx: HealthContext = Depends(context)
) -> Alert:
    async with ctx.sessions() as session:
        row = await queries.alert(session, ctx.tables, alert_id)
    if row is None:
        raise ApiError(404, f"no alert {alert_id}")
    return alert_model(row)


@router.post("/{alert_id}/ack", response_model=Alert, summary="Acknowledge an alert (who comes from the API key)")
async def acknowledge(
    alert_id: str,
    body: AckIn | None = None,
    who: str = Depends(require_scope("write")),
    ctx: HealthContext = Depends(context),
) -> Alert:
    async with unit_of_work(ctx.sessions) as session:
        row = await queries.acknowledge(session, ctx.tables, alert_id, by=who, note=body.note if body else None,
                                        at=ctx.clock())
    if row is None:
        raise ApiError(404, f"no alert {alert_id}")
    return alert_model(row)
