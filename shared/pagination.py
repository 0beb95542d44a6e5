"""Cursor pagination shared by every list endpoint: ``limit`` (default 50, max 500) and an opaque cursor."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel

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


def time_key_cursor(at: datetime, key: str | int) -> str:
    """The cursor of a list ordered by a timestamp and then a unique key (the usual keyset)."""
    return encode_cursor({"at": at.isoformat(), "id": key})


def time_key_position(position: dict[str, Any] | None, key_type: type[Key]) -> tuple[datetime, Key] | None:
    """The (timestamp, key) a ``time_key_cursor`` stands for; anything else is a 400."""
    if position is None:
        return None
    try:
        at, key = datetime.fromisoformat(position["at"]), position["id"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiError(400, "invalid cursor") from exc
    if at.tzinfo is None or not isinstance(key, key_type):
        raise ApiError(400, "invalid cursor")
    return at, key
