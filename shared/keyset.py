"""A list endpoint's query, the SQL side (the cursor is `shared.pagination`'s): its optional filters
(`where_given`) and its keyset page (`keyset_page`). A list ordered by a sort
column and then a unique key continues after the position (sort value, key) of the previous page's
last row. One row comparison, which an index on (column, key) serves; a page never skips or repeats
rows when many share a sort value or when rows change between pages. Both must be non-null (a
nullable sort column needs its own rule: health's account list).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVarTuple

import sqlalchemy as sa

Columns = TypeVarTuple("Columns")


def where_given(
    query: sa.Select[*Columns], filters: Iterable[tuple[sa.ColumnElement[Any], Any]]
) -> sa.Select[*Columns]:
    """`query` narrowed to rows whose column equals the filter's value, for each (column, value) whose
    value is given: None means any."""
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    return query


def beyond(
    column: sa.ColumnElement[Any], key: sa.ColumnElement[Any], position: tuple[Any, Any], *, descending: bool
) -> sa.ColumnElement[bool]:
    """The rows after `position` in (column, key) order, descending or ascending."""
    # The position's values are typed as the columns are: a timestamp compares as timestamptz.
    at = sa.tuple_(sa.literal(position[0], column.type), sa.literal(position[1], key.type))
    row = sa.tuple_(column, key)
    return row < at if descending else row > at


def keyset_page(
    query: sa.Select[*Columns], column: sa.ColumnElement[Any], key: sa.ColumnElement[Any], *,
    after: tuple[Any, Any] | None, descending: bool, limit: int,
) -> sa.Select[*Columns]:
    """`query`'s next `limit` rows after `after` (None: from the start) in (column, key) order."""
    if after is not None:
        query = query.where(beyond(column, key, after, descending=descending))
    order = (column.desc(), key.desc()) if descending else (column.asc(), key.asc())
    return query.order_by(*order).limit(limit)
