"""An account's timeline: what happened to it, newest first, each entry in words, so a reason's
evidence leads somewhere. Input events (interactions, tickets, surveys, contacts, contracts, account
updates) one by one, usage as daily roll-ups per feature, score changes and alerts. A reason's
evidence ids find their entries with `event_id=` (a usage event finds the roll-up that counts it)."""

from __future__ import annotations

from typing import Any

from fastapi import Query
from pydantic import AwareDatetime

from services.health import queries
from services.health.api.accounts import AccountId, SinceParam, UntilParam, check_window
from services.health.api.context import Ctx
from services.health.api.models import TimelineEntry
from services.health.domain.entries import TIMELINE_KINDS, TimelineKind, describe, describe_alert, describe_score
from services.health.timeline_store import TimelineQuery, timeline_page
from shared.app import api_router
from shared.auth import ReadKey
from shared.errors import ApiError
from shared.pagination import CursorParam, LimitParam, Page, decode_cursor, time_key_cursor, time_key_position

router = api_router(prefix="/v1/accounts", tags=["timeline"])

MAX_EVENT_IDS = 100


@router.get("/{account_id}/timeline", response_model=Page[TimelineEntry],
            summary="What happened to an account, newest first: events, daily usage, score changes, alerts")
async def account_timeline(
    *,
    account_id: str = AccountId,
    kind: list[TimelineKind] | None = Query(None, description="Only these kinds (repeatable)."),
    since: AwareDatetime | None = SinceParam,
    until: AwareDatetime | None = UntilParam,
    event_id: list[str] | None = Query(None, max_length=MAX_EVENT_IDS, description=(
        "Only the entries that cover these input events (repeatable, at most 100): a reason's "
        "`evidence_event_ids`. A usage event is found in its day's roll-up.")),
    limit: int = LimitParam,
    cursor: str | None = CursorParam,
    _: ReadKey,
    ctx: Ctx,
) -> Page[TimelineEntry]:
    check_window(since, until)
    if event_id and any(not 1 <= len(e) <= 128 for e in event_id):
        raise ApiError(422, "an event id is 1-128 characters", details=[{"loc": "query.event_id", "msg": "length"}])
    after = time_key_position(decode_cursor(cursor), str)
    q = TimelineQuery(account_id=account_id, kinds=frozenset(kind or TIMELINE_KINDS), since=since, until=until,
                      event_ids=tuple(event_id or ()))
    async with ctx.sessions() as session:
        if await queries.account(session, ctx.tables, account_id) is None:
            raise ApiError(404, f"no account {account_id}")
        rows = await timeline_page(session, ctx.tables.timeline, score_history=ctx.tables.score_history,
                                   alerts=ctx.tables.alerts, q=q, after=after, limit=limit + 1)
    items = [_entry(r) for r in rows[:limit]]
    next_cursor = time_key_cursor(items[-1].at, items[-1].entry_id) if len(rows) > limit else None
    return Page[TimelineEntry](items=items, next_cursor=next_cursor)


def _entry(row: Any) -> TimelineEntry:
    body: dict[str, Any] = row.body
    if row.kind == "score":
        summary = describe_score(score=body["score"], grade=body["grade"], previous_score=body["previous_score"],
                                 previous_grade=body["previous_grade"], cause=body["cause"])
    elif row.kind == "alert":
        summary = describe_alert(kind=body["kind"], severity=body["severity"], status=body["status"])
    else:
        summary = describe(row.type, body)
    return TimelineEntry(kind=row.kind, type=row.type, at=row.at, entry_id=row.key, event_id=row.event_id,
                         summary=summary, data=body)
