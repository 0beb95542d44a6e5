"""A work item's PATCH, the same for an expansion opportunity and a renewal: people move it along
(`stage`), assign it (`owner`) and annotate it (`notes`). The row is locked for the change, so two
PATCHes of one item take turns and each judges the stage move against the stage the other left; a
move the service's domain forbids is a 422 that names the stage it came from.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import Record, unit_of_work
from shared.errors import ApiError, patch_changes


class WorkItemPatch(BaseModel):
    """A PATCH body: each service narrows `stage` to its own stages (the field keeps its place)."""

    model_config = ConfigDict(extra="forbid")

    stage: str | None = None
    owner: Annotated[str, Field(max_length=200)] | None = None
    notes: Annotated[str, Field(max_length=10_000)] | None = None


async def item(session: AsyncSession, table: sa.Table, item_id: str, *, for_update: bool = False) -> Record | None:
    """The row whose primary key is `item_id`; locked until the transaction ends when `for_update`."""
    (key,) = table.primary_key.columns
    query = sa.select(table).where(key == item_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def update_item(session: AsyncSession, table: sa.Table, item_id: str, values: Mapping[str, Any]) -> Record:
    """Set `values` on the row whose primary key is `item_id`; returns the row as it now is."""
    (key,) = table.primary_key.columns
    return (await session.execute(sa.update(table).where(key == item_id).values(**values).returning(*table.c))).one()


def check_stage_move(
    changes: Mapping[str, Any], *, current: str, can_move: Callable[[str, str], bool], item_name: str
) -> None:
    """A 422 (``invalid_transition``) when `changes` moves the stage where `can_move` forbids."""
    if "stage" in changes and not can_move(current, changes["stage"]):
        raise ApiError(422, f"{item_name} cannot move from {current} to {changes['stage']}",
                       code="invalid_transition",
                       details=[{"loc": "body.stage", "msg": f"not allowed from {current}"}])


Update = Callable[[AsyncSession, Record, dict[str, Any]], Awaitable[Record]]
"""Writes a PATCH's checked changes to the locked row (given as it was); returns the row as it now is."""


async def patch(
    sessions: async_sessionmaker[AsyncSession], table: sa.Table, item_id: str, body: WorkItemPatch, *,
    noun: str, can_move: Callable[[str, str], bool], update: Update,
) -> Record:
    """A work item's PATCH in one transaction: the body's changes (a null stage is refused), the row
    locked (404 when there is none), the stage move judged, then `update`."""
    changes = patch_changes(body, required=("stage",))
    async with unit_of_work(sessions) as session:
        row = await item(session, table, item_id, for_update=True)
        if row is None:
            raise ApiError(404, f"no {noun} {item_id}")
        article = "an" if noun[0] in "aeiou" else "a"
        check_stage_move(changes, current=row.stage, can_move=can_move, item_name=f"{article} {noun}")
        return await update(session, row, changes)
