"""Manual overrides: an account manager's grade or sentiment, with a reason and an expiry.

Stored apart from the computed score, so no recompute can wipe them; the health response shows them
beside the computed score, and an expired one stays visible (as expired) until it is replaced or
deleted.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Depends, Response

from services.health import queries
from services.health.api.accounts import AccountId, override_model
from services.health.api.context import HealthContext, context
from services.health.api.models import Override, OverrideIn
from services.health.domain import Override as DomainOverride
from shared.app import api_router
from shared.auth import require_scope
from shared.db import unit_of_work
from shared.errors import ApiError

router = api_router(prefix="/v1/accounts", tags=["overrides"])

OverrideKind = Literal["grade", "sentiment"]


@router.put("/{account_id}/overrides/{kind}", response_model=Override,
            summary="Set (or replace) the account's grade or sentiment override")
async def put_override(
    body: OverrideIn,
    kind: OverrideKind,
    account_id: str = AccountId,
    who: str = Depends(require_scope("write")),
    ctx: HealthContext = Depends(context),
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
        row = await queries.put_override(session, ctx.tables, account_id=account_id, kind=kind, value=body.value,
                                         reason=body.reason, set_by=who, set_at=now, expires_at=body.expires_at)
    return override_model(row, now=now)


@router.delete("/{account_id}/overrides/{kind}", status_code=204, response_class=Response,
               summary="Remove the account's override of this kind")
async def delete_override(
    kind: OverrideKind,
    account_id: str = AccountId,
    _: str = Depends(require_scope("write")),
    ctx: HealthContext = Depends(context),
) -> Response:
    async with unit_of_work(ctx.sessions) as session:
        deleted = await queries.delete_override(session, ctx.tables, account_id, kind)
    if not deleted:
        raise ApiError(404, f"no {kind} override on account {account_id}")
    return Response(status_code=204)
