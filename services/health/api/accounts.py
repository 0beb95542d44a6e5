"""An account's health (score, components, trend, reasons, overrides), its history, and the list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import Path, Query
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession

from services.health import queries
from services.health.api.alerts import alert_model
from services.health.api.context import Ctx
from services.health.api.models import (
    AccountHealth,
    AccountSummary,
    Component,
    Effective,
    Grade,
    HistoryEntry,
    LastChange,
    Override,
    Part,
    Reason,
    ScorecardRef,
)
from services.health.domain import (
    HealthScore,
    Scorecard,
    apply_overrides,
    health_now,
    health_score_from_json,
    scorecard_for,
    top_reasons,
    trend,
    validate_scorecard,
)
from services.health.domain import Override as DomainOverride
from services.health.store import HealthTables, load_accounts, load_scorecards
from shared.app import api_router
from shared.auth import ReadKey
from shared.db import Record
from shared.errors import ApiError
from shared.pagination import (
    CursorParam,
    LimitParam,
    Page,
    decode_cursor,
    encode_cursor,
    time_key_cursor,
    time_key_position,
)

router = api_router(prefix="/v1/accounts", tags=["accounts"])

AccountId = Path(min_length=1, max_length=128)
SinceParam = Query(None, alias="from", description="Inclusive (RFC 3339 with offset).")
UntilParam = Query(None, alias="to", description="Exclusive (RFC 3339 with offset).")


def check_window(since: datetime | None, until: datetime | None) -> None:
    """A `from`/`to` window that holds nothing is a caller's mistake, not an empty page."""
    if since is not None and until is not None and since >= until:
        raise ApiError(400, "`from` must be before `to`", details=[{"loc": "query.from", "msg": "after `to`"}])


@router.get("/{account_id}/health", response_model=AccountHealth, summary="An account's health and why")
async def account_health(*, account_id: str = AccountId, _: ReadKey, ctx: Ctx) -> AccountHealth:
    now = ctx.clock()
    async with ctx.sessions() as session:
        row = await queries.account(session, ctx.tables, account_id)
        if row is None or row.health is None:
            raise ApiError(404, f"no account {account_id}")
        # As of now: the midnights since the account's latest point, evaluated for this read (the
        # scheduler stores the same results once each midnight's grace has passed).
        stored = (await load_accounts(session, ctx.tables, [account_id]))[account_id]
        current = health_now(stored, scorecards=await load_scorecards(session, ctx.tables),
                             norms=await ctx.pipeline.norms(session), now=now)
        score = current.score or health_score_from_json(row.health)
        points = await queries.score_points(session, ctx.tables, account_id, as_of=score.as_of)
        if not points or points[-1][0] < score.as_of:
            points.append((score.as_of, score.total))  # the read's own point, not stored yet
        last = await queries.latest_change(session, ctx.tables, account_id)
        override_rows = await queries.overrides_of(session, ctx.tables, [account_id])
        open_alerts = await queries.alerts(session, ctx.tables, limit=100, after=None,
                                           filters=queries.AlertFilters(status="open", account_id=account_id))
        card = await _scorecard_of(session, ctx.tables, score)
    domain_overrides = [_domain_override(o) for o in override_rows]
    effective = apply_overrides(score, domain_overrides, as_of=now, scorecard=card)
    return AccountHealth(
        account_id=account_id, name=row.name, owner=row.owner, segment=row.segment, score=score.total,
        grade=score.grade,
        as_of=score.as_of, scored_at=row.scored_at, last_event_at=row.last_event_at,
        scorecard=ScorecardRef(segment=score.segment, version=score.scorecard_version),
        coverage=score.coverage, components=_components(score), forced_by=score.forced_by,
        churn_probability=card.calibration.probability_at(score.total) if card.calibration else None,
        forced_detail=score.forced_detail, trend=trend(points, score.as_of),
        reasons=[Reason(**r.to_json()) for r in top_reasons(score, 5)],
        last_change=None if last is None else LastChange(
            as_of=last.as_of, cause=last.cause, previous_score=last.previous_score,
            previous_grade=last.previous_grade, reasons=[Reason(**r) for r in last.reasons]),
        effective=Effective(score=effective.effective_total, grade=effective.effective_grade,
                            overridden=effective.overridden, notes=list(effective.notes)),
        overrides=[override_model(o, now=now) for o in override_rows],
        open_alerts=[alert_model(a) for a in open_alerts],
        arr=row.arr, currency=row.currency, renewal_date=row.renewal_date,
        days_to_renewal=None if row.renewal_date is None else (row.renewal_date - now.date()).days,
    )


async def _scorecard_of(session: AsyncSession, tables: HealthTables, score: HealthScore) -> Scorecard:
    """The scorecard version that produced `score` (a sentiment override re-totals with it)."""
    t = tables.scorecards
    config = await session.scalar(sa.select(t.c.config).where(
        t.c.segment == score.segment, t.c.version == score.scorecard_version))
    if config is not None:
        return validate_scorecard(config)
    return scorecard_for(score.segment, await load_scorecards(session, tables))


def _components(score: HealthScore) -> dict[str, Component]:
    return {
        name: Component(
            score=c.score, weight=c.weight, effective_weight=c.effective_weight, missing=c.missing,
            facts=dict(c.facts),
            parts=[Part(name=p.name, score=p.score, weight=p.weight, detail=p.detail,
                        evidence_event_ids=list(p.evidence_event_ids)) for p in c.parts],
        )
        for name, c in score.components.items()
    }


def _domain_override(row: Record) -> DomainOverride:
    return DomainOverride(kind=row.kind, value=row.value, reason=row.reason, set_by=row.set_by,
                          expires_at=row.expires_at)


def override_model(row: Record, *, now: datetime) -> Override:
    return Override(kind=row.kind, value=row.value, reason=row.reason, set_by=row.set_by, set_at=row.set_at,
                    expires_at=row.expires_at, status="active" if row.expires_at > now else "expired")


@router.get("/{account_id}/health/history", response_model=Page[HistoryEntry],
            summary="Every change of an account's score, newest first")
async def account_history(
    *,
    account_id: str = AccountId,
    since: AwareDatetime | None = SinceParam,
    until: AwareDatetime | None = UntilParam,
    limit: int = LimitParam,
    cursor: str | None = CursorParam,
    _: ReadKey,
    ctx: Ctx,
) -> Page[HistoryEntry]:
    check_window(since, until)
    after = time_key_position(decode_cursor(cursor), int)
    async with ctx.sessions() as session:
        if await queries.account(session, ctx.tables, account_id) is None:
            raise ApiError(404, f"no account {account_id}")
        rows = await queries.history(session, ctx.tables, account_id, since=since, until=until, after=after,
                                     limit=limit + 1)
    items = [_history_entry(r) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = None if last is None else time_key_cursor(last.as_of, last.id)
    return Page[HistoryEntry](items=items, next_cursor=next_cursor)


def _history_entry(row: Record) -> HistoryEntry:
    return HistoryEntry(
        as_of=row.as_of, score=row.score, grade=row.grade, previous_score=row.previous_score,
        previous_grade=row.previous_grade, components=row.components, component_deltas=row.component_deltas,
        reasons=[Reason(**r) for r in row.reasons],
        scorecard=ScorecardRef(segment=row.scorecard_segment, version=row.scorecard_version),
        cause=row.cause, recorded_at=row.recorded_at,
    )


@router.get("", response_model=Page[AccountSummary], summary="Accounts, filtered and sorted")
async def list_accounts(
    *,
    grade: Grade | None = Query(None, description="Computed grade."),
    segment: str | None = Query(None, max_length=64),
    min_score: float | None = Query(None, ge=0, le=100),
    max_score: float | None = Query(None, ge=0, le=100),
    owner: str | None = Query(None, max_length=200, description="The account manager as account.updated names "
                              "them: \"my accounts\"."),
    sort: queries.AccountSort = Query("score", description="`score` (lowest first), `-score`, `arr`, `-arr`, "
                                                           "`renewal_date` (soonest first); ties by account id."),
    limit: int = LimitParam,
    cursor: str | None = CursorParam,
    _: ReadKey,
    ctx: Ctx,
) -> Page[AccountSummary]:
    if min_score is not None and max_score is not None and min_score > max_score:
        raise ApiError(400, "min_score is above max_score",
                       details=[{"loc": "query.min_score", "msg": f"{min_score:g} > max_score {max_score:g}"}])
    after = _account_position(decode_cursor(cursor), sort)
    filters = queries.AccountFilters(grade=grade, segment=segment, min_score=min_score, max_score=max_score,
                                     owner=owner)
    async with ctx.sessions() as session:
        rows = await queries.list_accounts(session, ctx.tables, filters=filters, sort=sort, after=after,
                                           limit=limit + 1)
        page = rows[:limit]
        overrides = await queries.overrides_of(session, ctx.tables, [r.account_id for r in page])
    now = ctx.clock()
    grade_overrides = {o.account_id: o.value for o in overrides if o.kind == "grade" and o.expires_at > now}
    items = [
        AccountSummary(
            account_id=r.account_id, name=r.name, owner=r.owner, segment=r.segment, score=r.score, grade=r.grade,
            effective_grade=grade_overrides.get(r.account_id, r.grade),
            scorecard=ScorecardRef(segment=r.scorecard_segment, version=r.scorecard_version), arr=r.arr,
            currency=r.currency, renewal_date=r.renewal_date, as_of=r.as_of, last_event_at=r.last_event_at,
        )
        for r in page
    ]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        value = getattr(last, sort.lstrip("-"))
        next_cursor = encode_cursor({"sort": sort, "v": queries.sort_value_to_json(sort, value),
                                     "id": last.account_id})
    return Page[AccountSummary](items=items, next_cursor=next_cursor)


def _account_position(position: dict[str, Any] | None, sort: str) -> tuple[Any, str] | None:
    if position is None:
        return None
    if position.get("sort") != sort:
        raise ApiError(400, "this cursor belongs to another sort order",
                       details=[{"loc": "query.cursor", "msg": f"made for sort={position.get('sort')}"}])
    try:
        value = queries.sort_value_from_json(sort, position["v"])
        account_id = position["id"]
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ApiError(400, "invalid cursor") from exc
    if not isinstance(account_id, str):
        raise ApiError(400, "invalid cursor")
    return value, account_id
