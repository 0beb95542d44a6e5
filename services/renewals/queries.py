"""Read-side queries of the HTTP API and its one write (PATCH a renewal).

Lists are ordered by renewal date, soonest first, with keyset pagination on (renewal_date,
renewal_id). The `upcoming`/`open` split is computed from the day asked about (see domain.renewals).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.renewals.domain import CLOSED_STAGES, AccountSpan, ClosedCount, DueRenewal, Period
from services.renewals.store import RenewalsTables
from shared.db import Record
from shared.keyset import keyset_page, where_given


@dataclass(frozen=True)
class RenewalFilters:
    today: date
    window_days: int
    account_id: str | None = None
    due_within_days: int | None = None
    risk: str | None = None
    stage: str | None = None
    pending_only: bool = False


def _stage_condition(r: sa.Table, stage: str, *, today: date, window_days: int) -> sa.ColumnElement[bool]:
    opens_after = today + timedelta(days=window_days)
    if stage == "upcoming":
        return sa.and_(r.c.stage == "open", r.c.renewal_date > opens_after)
    if stage == "open":
        return sa.and_(r.c.stage == "open", r.c.renewal_date <= opens_after)
    return r.c.stage == stage


async def list_renewals(
    session: AsyncSession, tables: RenewalsTables, *, filters: RenewalFilters,
    after: tuple[date, str] | None, limit: int,
) -> list[Record]:
    r = tables.renewals
    query = where_given(sa.select(r), [(r.c.account_id, filters.account_id), (r.c.risk, filters.risk)])
    if filters.due_within_days is not None:
        query = query.where(r.c.renewal_date.between(filters.today,
                                                     filters.today + timedelta(days=filters.due_within_days)))
    if filters.stage is not None:
        query = query.where(_stage_condition(r, filters.stage, today=filters.today, window_days=filters.window_days))
    if filters.pending_only:
        query = query.where(r.c.stage.not_in(sorted(CLOSED_STAGES)))
    query = keyset_page(query, r.c.renewal_date, r.c.renewal_id, after=after, descending=False, limit=limit)
    return list((await session.execute(query)).all())


async def due_renewals(session: AsyncSession, tables: RenewalsTables, period: Period) -> list[DueRenewal]:
    r = tables.renewals
    rows = await session.execute(
        sa.select(r.c.renewal_id, r.c.renewal_date, r.c.arr, r.c.currency, r.c.risk, r.c.stage)
        .where(r.c.renewal_date >= period.start, r.c.renewal_date < period.end)
    )
    return [DueRenewal(*row) for row in rows]


async def spans_around(session: AsyncSession, tables: RenewalsTables, period: Period) -> list[AccountSpan]:
    """The ARR spans live on the period's first day or the first day after it."""
    s = tables.arr_spans

    def live(day: date) -> sa.ColumnElement[bool]:
        return sa.and_(s.c.valid_from <= day, s.c.valid_to > day)

    rows = await session.execute(
        sa.select(s.c.account_id, s.c.currency, s.c.arr, s.c.valid_from, s.c.valid_to)
        .where(sa.or_(live(period.start), live(period.end)))
    )
    return [AccountSpan(*row) for row in rows]


async def closed_by_band(session: AsyncSession, tables: RenewalsTables, *, before: date) -> dict[str, ClosedCount]:
    """The book's closed renewals due before `before`, per the risk band they were last judged at while
    open: how many closed and how many of those renewed (the forecast's history; nothing of the period
    forecast is read, so a past period is not forecast with its own outcomes)."""
    r = tables.renewals
    rows = await session.execute(
        sa.select(r.c.risk, sa.func.count(), sa.func.count().filter(r.c.stage == "renewed"))
        .where(r.c.stage.in_(sorted(CLOSED_STAGES)), r.c.renewal_date < before).group_by(r.c.risk)
    )
    return {band: ClosedCount(closed=closed, renewed=renewed) for band, closed, renewed in rows}
