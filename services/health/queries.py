"""Read-side queries of the HTTP API, and its two small writes (overrides, acknowledgements).

Lists use keyset pagination: the position after the last item, (sort value, unique id), so a page
never skips or repeats rows when many share a sort value or when rows change between pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.health.store import HealthTables
from shared.db import Record
from shared.keyset import keyset_page, where_given

AccountSort = Literal["score", "-score", "arr", "-arr", "renewal_date"]
_SORT_COLUMNS: dict[str, tuple[str, bool]] = {
    "score": ("score", False), "-score": ("score", True), "arr": ("arr", False), "-arr": ("arr", True),
    "renewal_date": ("renewal_date", False),
}


@dataclass(frozen=True)
class AccountFilters:
    grade: str | None = None
    segment: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    owner: str | None = None


def sort_value_to_json(sort: str, value: Any) -> Any:
    if value is None or sort.lstrip("-") == "score":
        return value
    return str(value) if isinstance(value, Decimal) else value.isoformat()


def sort_value_from_json(sort: str, value: Any) -> Any:
    """The typed sort value of a cursor position; ValueError / TypeError when it is not one."""
    if value is None:
        return None
    column = sort.lstrip("-")
    if column == "score":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError("score position must be a number")
        return float(value)
    if not isinstance(value, str):
        raise TypeError(f"{column} position must be a string")
    return Decimal(value) if column == "arr" else date.fromisoformat(value)


def _after(column: sa.ColumnElement[Any], key: sa.ColumnElement[Any], value: Any, key_value: str,
           *, descending: bool) -> sa.ColumnElement[bool]:
    """Rows after (value, key_value) in `column` order (NULLS LAST), ties broken by `key` ascending."""
    if value is None:
        return sa.and_(column.is_(None), key > key_value)
    beyond = column < value if descending else column > value
    return sa.or_(beyond, sa.and_(column == value, key > key_value), column.is_(None))


async def list_accounts(
    session: AsyncSession, tables: HealthTables, *, filters: AccountFilters, sort: str,
    after: tuple[Any, str] | None, limit: int,
) -> list[Record]:
    a = tables.accounts
    name, descending = _SORT_COLUMNS[sort]
    column = a.c[name]
    name_of, owner_of = profile_field(a.c.signals, "name"), profile_field(a.c.signals, "owner")
    query = sa.select(a.c.account_id, a.c.segment, a.c.score, a.c.grade, a.c.scorecard_segment,
                      a.c.scorecard_version, a.c.arr, a.c.currency, a.c.renewal_date, a.c.as_of, a.c.last_event_at,
                      name_of.label("name"), owner_of.label("owner"))
    query = where_given(query, [(owner_of, filters.owner), (a.c.grade, filters.grade), (a.c.segment, filters.segment)])
    if filters.min_score is not None:
        query = query.where(a.c.score >= filters.min_score)
    if filters.max_score is not None:
        query = query.where(a.c.score <= filters.max_score)
    if after is not None:
        query = query.where(_after(column, a.c.account_id, after[0], after[1], descending=descending))
    ordered = column.desc().nulls_last() if descending else column.asc().nulls_last()
    query = query.order_by(ordered, a.c.account_id).limit(limit)
    return list((await session.execute(query)).all())


def profile_field(signals: Any, name: str) -> Any:
    """An account.updated field as stored in the folded signals (`profile.<name>` = [value, stamp])."""
    return signals["profile"][name][0].astext


async def account(session: AsyncSession, tables: HealthTables, account_id: str) -> Record | None:
    a = tables.accounts
    query = sa.select(a.c.account_id, a.c.segment, a.c.health, a.c.arr, a.c.currency, a.c.renewal_date,
                      a.c.last_event_at, a.c.scored_at, profile_field(a.c.signals, "name").label("name"),
                      profile_field(a.c.signals, "owner").label("owner")).where(a.c.account_id == account_id)
    return (await session.execute(query)).one_or_none()


async def score_points(
    session: AsyncSession, tables: HealthTables, account_id: str, *, as_of: datetime, days: int = 90
) -> list[tuple[datetime, float]]:
    """The history points a trend over `days` needs: those within it, plus the last one before it.
    Of points sharing a time (an event and a scorecard rescore), the later recorded one wins."""
    h = tables.score_history
    since = as_of - timedelta(days=days)
    mine = h.c.account_id == account_id
    within = sa.select(h.c.as_of, h.c.score, h.c.id).where(mine, h.c.as_of > since)
    before = (sa.select(h.c.as_of, h.c.score, h.c.id).where(mine, h.c.as_of <= since)
              .order_by(h.c.as_of.desc(), h.c.id.desc()).limit(1))
    rows = (await session.execute(sa.union_all(within, before.subquery().select()))).all()
    latest: dict[datetime, tuple[int, float]] = {}
    for at, score, row_id in rows:
        if at not in latest or row_id > latest[at][0]:
            latest[at] = (row_id, score)
    return sorted((at, score) for at, (_, score) in latest.items())


async def history(
    session: AsyncSession, tables: HealthTables, account_id: str, *, since: datetime | None,
    until: datetime | None, after: tuple[datetime, int] | None, limit: int,
) -> list[Record]:
    """Score changes, newest first; `since` inclusive, `until` exclusive."""
    h = tables.score_history
    query = sa.select(h).where(h.c.account_id == account_id)
    if since is not None:
        query = query.where(h.c.as_of >= since)
    if until is not None:
        query = query.where(h.c.as_of < until)
    query = keyset_page(query, h.c.as_of, h.c.id, after=after, descending=True, limit=limit)
    return list((await session.execute(query)).all())


async def latest_change(session: AsyncSession, tables: HealthTables, account_id: str) -> Record | None:
    rows = await history(session, tables, account_id, since=None, until=None, after=None, limit=1)
    return rows[0] if rows else None


# --- overrides ---------------------------------------------------------------------------------


async def overrides_of(session: AsyncSession, tables: HealthTables, account_ids: Sequence[str]) -> list[Record]:
    o = tables.overrides
    query = sa.select(o).where(o.c.account_id.in_(account_ids)).order_by(o.c.account_id, o.c.set_at)
    return list((await session.execute(query)).all())


# --- alerts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertFilters:
    status: str | None = None
    kind: str | None = None
    account_id: str | None = None
    severity: str | None = None
    owner: str | None = None
    """The account manager account.updated names (alerts of accounts health has not seen have none)."""
    assigned_to: str | None = None
    snoozed: bool | None = None
    """True: only alerts snoozed at `now`; False: only those not snoozed (the inbox's working view)."""
    now: datetime | None = None


def _alerts_with_owner(tables: HealthTables) -> sa.Select[Any]:
    t, a = tables.alerts, tables.accounts
    owner = profile_field(a.c.signals, "owner").label("owner")
    name = profile_field(a.c.signals, "name").label("account_name")
    return sa.select(t, owner, name).select_from(t.outerjoin(a, a.c.account_id == t.c.account_id))


async def alerts(
    session: AsyncSession, tables: HealthTables, *, filters: AlertFilters, after: tuple[datetime, str] | None,
    limit: int,
) -> list[Record]:
    """Alerts (health's own and those read from the churn-risk topic), most recently raised first,
    each with its account's owner and name."""
    t, a = tables.alerts, tables.accounts
    query = _alerts_with_owner(tables)
    query = where_given(query, [*((t.c[name], getattr(filters, name))
                                  for name in ("status", "kind", "account_id", "severity", "assigned_to")),
                                (profile_field(a.c.signals, "owner"), filters.owner)])
    if filters.snoozed is not None:
        if filters.now is None:
            raise ValueError("the snoozed filter needs now")
        snoozed = sa.and_(t.c.snoozed_until.is_not(None), t.c.snoozed_until > filters.now)
        query = query.where(snoozed if filters.snoozed else sa.not_(snoozed))
    query = keyset_page(query, t.c.raised_at, t.c.alert_id, after=after, descending=True, limit=limit)
    return list((await session.execute(query)).all())


async def alert(session: AsyncSession, tables: HealthTables, alert_id: str) -> Record | None:
    t = tables.alerts
    row: Record | None = (await session.execute(_alerts_with_owner(tables).where(t.c.alert_id == alert_id))
                          ).one_or_none()
    return row


async def update_alert(session: AsyncSession, tables: HealthTables, alert_id: str, **values: Any) -> Record | None:
    """Set a person's fields of one alert (acknowledgement, snooze, assignment); None when there is
    no such alert. The consumers never write these fields, so a later raise or resolve keeps them."""
    t = tables.alerts
    stmt = sa.update(t).where(t.c.alert_id == alert_id).values(**values).returning(t.c.alert_id)
    updated = await session.execute(stmt)
    if updated.first() is None:
        return None
    return await alert(session, tables, alert_id)
