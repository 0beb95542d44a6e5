"""Overrides and their history: every override set, changed, expired or removed, with who (the API
key's name) and why, kept apart from the one in force (``overrides``) so a PUT no longer erases what
was there before.

A change and its history rows are written in one transaction, under a lock per account and kind, so
two people changing the same override at once are recorded one after the other. An override that
ran out is recorded as expired (at its expiry, by ``system``) when the next change comes; until
then the history read shows its expiry from the override itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.health.domain.overrides import override_changes
from shared.db import Record
from shared.keyset import keyset_page, where_given

if TYPE_CHECKING:
    from services.health.store import HealthTables

SYSTEM = "system"
"""Who an expiry is recorded by: nobody acted, the override ran out."""


async def _lock_and_read(session: AsyncSession, tables: HealthTables, account_id: str, kind: str) -> Record | None:
    await session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                          {"key": f"{tables.schema}:override:{account_id}:{kind}"})
    o = tables.overrides
    return (await session.execute(sa.select(o).where(o.c.account_id == account_id, o.c.kind == kind))).one_or_none()


def _history_rows(current: Record | None, *, account_id: str, kind: str, by: str, now: datetime, removing: bool,
                  why: str | None, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    rows = []
    for action, at in override_changes(None if current is None else current.expires_at, now=now, removing=removing):
        if action == "expired":
            assert current is not None
            row = {"value": current.value, "reason": current.reason, "expires_at": current.expires_at, "by": SYSTEM}
        elif action == "removed":
            assert current is not None
            row = {"value": current.value, "reason": why, "expires_at": current.expires_at, "by": by}
        else:
            assert new is not None
            row = {"value": new["value"], "reason": new["reason"], "expires_at": new["expires_at"], "by": by}
        rows.append({"account_id": account_id, "kind": kind, "action": action, "at": at, **row})
    return rows


async def put_override(
    session: AsyncSession, tables: HealthTables, *, account_id: str, kind: str, value: Any, reason: str,
    set_by: str, set_at: datetime, expires_at: datetime,
) -> Record:
    """Set or replace the override, and record it (and the expiry of the one it replaces, if that one
    had run out) in the history."""
    current = await _lock_and_read(session, tables, account_id, kind)
    new = {"value": value, "reason": reason, "expires_at": expires_at}
    await session.execute(sa.insert(tables.override_history), _history_rows(
        current, account_id=account_id, kind=kind, by=set_by, now=set_at, removing=False, why=None, new=new))
    o = tables.overrides
    stmt = insert(o).values(account_id=account_id, kind=kind, set_by=set_by, set_at=set_at, **new)
    upsert = stmt.on_conflict_do_update(
        index_elements=[o.c.account_id, o.c.kind],
        set_={c: stmt.excluded[c] for c in ("value", "reason", "set_by", "set_at", "expires_at")},
    ).returning(o)
    row: Record = (await session.execute(upsert)).one()
    return row


async def delete_override(
    session: AsyncSession, tables: HealthTables, *, account_id: str, kind: str, by: str, why: str | None,
    at: datetime,
) -> bool:
    """Remove the override (False when there is none), recording who removed it and why."""
    current = await _lock_and_read(session, tables, account_id, kind)
    if current is None:
        return False
    await session.execute(sa.insert(tables.override_history), _history_rows(
        current, account_id=account_id, kind=kind, by=by, now=at, removing=True, why=why, new=None))
    o = tables.overrides
    await session.execute(sa.delete(o).where(o.c.account_id == account_id, o.c.kind == kind))
    return True


@dataclass(frozen=True)
class HistoryFilters:
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def override_history(
    session: AsyncSession, tables: HealthTables, account_id: str, *, filters: HistoryFilters, now: datetime,
    after: tuple[datetime, str] | None, limit: int,
) -> list[Record]:
    """Newest first: (at, key, kind, action, value, reason, expires_at, by). The recorded rows, and the
    expiry of an override in force that has run out (recorded only when the next change comes)."""
    h, o = tables.override_history, tables.overrides
    h_key = (sa.literal("h:") + sa.func.lpad(sa.cast(h.c.id, sa.Text), 19, "0")).label("key")
    recorded = sa.select(h.c.at, h_key, h.c.kind, h.c.action, h.c.value, h.c.reason, h.c.expires_at, h.c.by
                         ).where(h.c.account_id == account_id)
    o_key = (sa.literal("x:") + o.c.kind).label("key")
    ran_out = sa.select(o.c.expires_at.label("at"), o_key, o.c.kind, sa.literal("expired").label("action"), o.c.value,
                        o.c.reason, o.c.expires_at, sa.literal(SYSTEM).label("by")
                        ).where(o.c.account_id == account_id, o.c.expires_at <= now)
    merged = sa.union_all(recorded, ran_out).subquery()
    query = sa.select(merged)
    query = where_given(query, [(merged.c.kind, filters.kind)])
    if filters.since is not None:
        query = query.where(merged.c.at >= filters.since)
    if filters.until is not None:
        query = query.where(merged.c.at < filters.until)
    query = keyset_page(query, merged.c.at, merged.c.key, after=after, descending=True, limit=limit)
    return list((await session.execute(query)).all())
