"""Cursor pagination shared by every list endpoint: ``limit`` (default 50, max 500) and an opaque cursor."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.errors import ApiError
from shared.guards import find_bad_text

T = TypeVar("T")

LimitParam = Query(50, ge=1, le=500, description="Page size (at most 500).")
CursorParam = Query(None, description="The next_cursor of the previous page.")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The position a cursor stands for; a cursor that was not made by ``encode_cursor`` is a 400."""
    if cursor is None:
        return None
    try:
        position = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, "invalid cursor", details=[{"loc": "cursor", "msg": str(exc)}]) from exc
    # A cursor's strings go into queries: text PostgreSQL cannot hold is refused here, as in the URL.
    if not isinstance(position, dict) or find_bad_text(position) is not None:
        raise ApiError(400, "invalid cursor")
    return position


Key = TypeVar("Key", str, int)
Row = TypeVar("Row")
Value = TypeVar("Value")


def page_of(rows: Sequence[Row], *, limit: int, item: Callable[[Row], T], cursor: Callable[[T], str]) -> Page[T]:
    """The page of a keyset query asked for `limit + 1` rows: the extra row only says a next page
    exists, and the next cursor is the position of the page's last item."""
    items = [item(row) for row in rows[:limit]]
    return Page[T](items=items, next_cursor=cursor(items[-1]) if len(rows) > limit else None)


def time_key_cursor(at: datetime, key: str | int) -> str:
    """The cursor of a list ordered by a timestamp and then a unique key (the usual keyset)."""
    return encode_cursor({"at": at.isoformat(), "id": key})


def time_key_position(position: dict[str, Any] | None, key_type: type[Key]) -> tuple[datetime, Key] | None:
    """The (timestamp, key) a ``time_key_cursor`` stands for; anything else is a 400."""
    keyed = _keyed_position(position, "at", datetime.fromisoformat, key_type)
    if keyed is not None and keyed[0].tzinfo is None:
        raise ApiError(400, "invalid cursor")
    return keyed


async def time_keyed_page(
    sessions: async_sessionmaker[AsyncSession], cursor: str | None, limit: int, *,
    rows: Callable[[AsyncSession, tuple[datetime, str] | None, int], Awaitable[Sequence[Row]]],
    item: Callable[[Row], T], key: Callable[[T], tuple[datetime, str]],
) -> Page[T]:
    """A page of a list ordered by a timestamp and then a text key (``time_key_cursor``): the cursor read as
    the position to continue after, `rows(session, after, limit + 1)` its keyset query, `item` what
    each row is shown as and `key` its (timestamp, key) for the next cursor."""
    after = time_key_position(decode_cursor(cursor), str)
    async with sessions() as session:
        found = await rows(session, after, limit + 1)
    return page_of(found, limit=limit, item=item, cursor=lambda shown: time_key_cursor(*key(shown)))


def date_key_cursor(on: date, key: str) -> str:
    """The cursor of a list ordered by a day and then a unique key."""
    return encode_cursor({"on": on.isoformat(), "id": key})


def date_key_position(position: dict[str, Any] | None) -> tuple[date, str] | None:
    """The (day, key) a ``date_key_cursor`` stands for; anything else is a 400."""
    return _keyed_position(position, "on", date.fromisoformat, str)


def _keyed_position(
    position: dict[str, Any] | None, field: str, parse: Callable[[str], Value], key_type: type[Key]
) -> tuple[Value, Key] | None:
    if position is None:
        return None
    try:
        value, key = parse(position[field]), position["id"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiError(400, "invalid cursor") from exc
    if not isinstance(key, key_type):
        raise ApiError(400, "invalid cursor")
    return value, key
