"""The alert inbox: every churn-risk alert, health's own and those read from the churn-risk topic
(renewals' `renewal_at_risk`, ...; services/health/inbox.py): list them by owner, kind, severity,
status, account, assignee or snooze; read one; acknowledge one ("addressed", with who and a note),
snooze it until a date, assign it. Who comes from the API key's name."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from fastapi import Query

from services.health import queries
from services.health.api.context import Ctx, HealthContext
from services.health.api.models import AckIn, Alert, AssignIn, Reason, SnoozeIn
from shared.app import api_router
from shared.auth import ReadKey, WriteKey
from shared.db import Record, unit_of_work
from shared.errors import ApiError
from shared.pagination import CursorParam, LimitParam, Page, time_keyed_page

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
        origin=row.origin, owner=row.owner, account_name=row.account_name, snoozed_until=row.snoozed_until,
        snoozed_by=row.snoozed_by, assigned_to=row.assigned_to, assigned_by=row.assigned_by,
        assigned_at=row.assigned_at,
    )


@router.get("", response_model=Page[Alert], summary="Churn-risk alerts, most recently raised first")
async def list_alerts(
    *,
    status: Literal["open", "resolved"] | None = Query(None),
    kind: str | None = Query(None, max_length=64, description="e.g. grade_red, score_drop, champion_left"),
    account_id: str | None = Query(None, max_length=128),
    severity: Literal["low", "medium", "high", "critical"] | None = Query(None),
    owner: str | None = Query(None, max_length=200, description="The account manager as account.updated names "
                              "them: \"my alerts\"."),
    assigned_to: str | None = Query(None, max_length=200),
    snoozed: bool | None = Query(None, description="`false`: the working inbox (snoozed ones hidden); "
                                                   "`true`: only those snoozed now."),
    limit: int = LimitParam,
    cursor: str | None = CursorParam,
    _: ReadKey,
    ctx: Ctx,
) -> Page[Alert]:
    filters = queries.AlertFilters(status=status, kind=kind, account_id=account_id, severity=severity, owner=owner,
                                   assigned_to=assigned_to, snoozed=snoozed, now=ctx.clock())
    return await time_keyed_page(
        ctx.sessions, cursor, limit, item=alert_model, key=lambda a: (a.raised_at, a.alert_id),
        rows=lambda session, after, n: queries.alerts(session, ctx.tables, filters=filters, after=after, limit=n))


@router.get("/{alert_id}", response_model=Alert, summary="One alert")
async def get_alert(alert_id: str, _: ReadKey, ctx: Ctx) -> Alert:
    async with ctx.sessions() as session:
        row = await queries.alert(session, ctx.tables, alert_id)
    if row is None:
        raise ApiError(404, f"no alert {alert_id}")
    return alert_model(row)


async def _update(ctx: HealthContext, alert_id: str, **values: Any) -> Alert:
    async with unit_of_work(ctx.sessions) as session:
        row = await queries.update_alert(session, ctx.tables, alert_id, **values)
    if row is None:
        raise ApiError(404, f"no alert {alert_id}")
    return alert_model(row)


@router.post("/{alert_id}/ack", response_model=Alert, summary="Acknowledge an alert (who comes from the API key)")
async def acknowledge(*, alert_id: str, body: AckIn | None = None, who: WriteKey, ctx: Ctx) -> Alert:
    return await _update(ctx, alert_id, acknowledged_by=who, acknowledged_note=body.note if body else None,
                         acknowledged_at=ctx.clock())


@router.post("/{alert_id}/snooze", response_model=Alert,
             summary="Snooze an alert until a date (null wakes it); who comes from the API key")
async def snooze(body: SnoozeIn, alert_id: str, who: WriteKey, ctx: Ctx) -> Alert:
    if body.until is not None and body.until <= ctx.clock():
        raise ApiError(422, "the snooze is not valid",
                       details=[{"loc": "body.until", "msg": "must be in the future", "type": "in_the_past"}])
    return await _update(ctx, alert_id, snoozed_until=body.until, snoozed_by=who if body.until else None)


@router.post("/{alert_id}/assign", response_model=Alert,
             summary="Assign an alert to someone (null unassigns); who assigned comes from the API key")
async def assign(body: AssignIn, alert_id: str, who: WriteKey, ctx: Ctx) -> Alert:
    assigned = body.assignee is not None
    return await _update(ctx, alert_id, assigned_to=body.assignee, assigned_by=who if assigned else None,
                         assigned_at=ctx.clock() if assigned else None)
