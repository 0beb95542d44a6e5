"""Manual overrides: an account manager's grade or sentiment, with a reason and an expiry, and their
history (every one set, changed, expired or removed, with who and why).

Stored apart from the computed score, so no recompute can wipe them; the health response shows them
beside the computed score, and an expired one stays visible (as expired) until it is replaced or
deleted. Who is the API key's name.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Query, Response
from pydantic import AwareDatetime

from services.health import override_history, queries
from services.health.api.accounts import AccountId, SinceParam, UntilParam, check_window, override_model
from services.health.api.context import Ctx
from services.health.api.models import Override, OverrideHistoryEntry, OverrideIn
from services.health.domain import Override as DomainOverride
from shared.app import api_router
from shared.auth import ReadKey, WriteKey
from shared.db import unit_of_work
from shared.errors import ApiError
from shared.pagination import CursorParam, LimitParam, Page, decode_cursor, time_key_cursor, time_key_position

router = api_router(prefix="/v1/accounts", tags=["overrides"])

OverrideKind = Literal["grade", "sentiment"]


@router.put("/{account_id}/overrides/{kind}", response_model=Override,
            summary="Set (or replace) the account's grade or sentiment override")
async def put_override(
    *,
    body: OverrideIn,
    kind: OverrideKind,
    account_id: str = AccountId,
    who: WriteKey,
    ctx: Ctx,
) -> Override:
    now = ctx.clock()
    try:
        DomainOverride(kind=kind, value=body.value, reason=body.reason, set_by=who, expires_at=body.expires_at)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise ApiError(422, "the override is not valid",
                       details=[{"loc": f"body.{field}", "msg": message or str(exc), "type": "invalid_override"}]
                       ) from exc
    if body.expires_at <= now:
        raise ApiError(422, "the override is not valid",
                       details=[{"loc": "body.expires_at", "msg": "must be in the future", "type": "in_the_past"}])
    async with unit_of_work(ctx.sessions) as session:
        if await queries.account(session, ctx.tables, account_id) is None:
            raise ApiError(404, f"no account {account_id}")
        row = await override_history.put_override(session, ctx.tables, account_id=account_id, kind=kind,
                                                  value=body.value, reason=body.reason, set_by=who, set_at=now,
                                                  expires_at=body.expires_at)
    return override_model(row, now=now)


@router.delete("/{account_id}/overrides/{kind}", status_code=204, response_class=Response,
               summary="Remove the account's override of this kind")
async def delete_override(
    *,
    kind: OverrideKind,
    account_id: str = AccountId,
    reason: str | None = Query(None, min_length=1, max_length=2000, description="Why (kept in the history)."),
    who: WriteKey,
    ctx: Ctx,
) -> Response:
    async with unit_of_work(ctx.sessions) as session:
        deleted = await override_history.delete_override(session, ctx.tables, account_id=account_id, kind=kind,
                                                         by=who, why=reason, at=ctx.clock())
    if not deleted:
        raise ApiError(404, f"no {kind} override on account {account_id}")
    return Response(status_code=204)


@router.get("/{account_id}/overrides/history", response_model=Page[OverrideHistoryEntry],
            summary="Every override of the account set, changed, expired or removed, newest first")
async def overrides_history(
    *,
    account_id: str = AccountId,
    kind: OverrideKind | None = Query(None),
    since: AwareDatetime | None = SinceParam,
    until: AwareDatetime | None = UntilParam,
    limit: int = LimitParam,
    cursor: str | None = CursorParam,
    _: ReadKey,
    ctx: Ctx,
) -> Page[OverrideHistoryEntry]:
    check_window(since, until)
    after = time_key_position(decode_cursor(cursor), str)
    filters = override_history.HistoryFilters(kind=kind, since=since, until=until)
    async with ctx.sessions() as session:
        if await queries.account(session, ctx.tables, account_id) is None:
            raise ApiError(404, f"no account {account_id}")
        rows = await override_history.override_history(session, ctx.tables, account_id, filters=filters,
                                                       now=ctx.clock(), after=after, limit=limit + 1)
    items = [OverrideHistoryEntry(kind=r.kind, action=r.action, at=r.at, by=r.by, value=r.value, reason=r.reason,
                                  expires_at=r.expires_at) for r in rows[:limit]]
    next_cursor = time_key_cursor(rows[limit - 1].at, rows[limit - 1].key) if len(rows) > limit else None
    return Page[OverrideHistoryEntry](items=items, next_cursor=next_cursor)
