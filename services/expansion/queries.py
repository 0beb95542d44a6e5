"""Read-side queries of the HTTP API and its one write (PATCH an opportunity).

Lists are newest first with keyset pagination on (created_at, opportunity_id): a page never skips
or repeats rows when many opportunities share a creation time (one batch) or rows change between
pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.expansion.domain import CLOSED_STAGES, OPEN_STAGES, ExpansionSignals, signals_from_json
from services.expansion.domain.pipeline import PipelineEntry
from services.expansion.store import ExpansionTables
from shared import work_items
from shared.db import Record
from shared.keyset import keyset_page, where_given


@dataclass(frozen=True)
class OpportunityFilters:
    account_id: str | None = None
    kind: str | None = None
    stage: str | None = None
    min_uplift: Decimal | None = None


async def list_opportunities(
    session: AsyncSession, tables: ExpansionTables, *, filters: OpportunityFilters,
    after: tuple[datetime, str] | None, limit: int,
) -> list[Record]:
    o = tables.opportunities
    query = where_given(sa.select(o), [(o.c.account_id, filters.account_id), (o.c.kind, filters.kind),
                                       (o.c.stage, filters.stage)])
    if filters.min_uplift is not None:
        query = query.where(o.c.estimated_arr_uplift >= filters.min_uplift)
    query = keyset_page(query, o.c.created_at, o.c.opportunity_id, after=after, descending=True, limit=limit)
    return list((await session.execute(query)).all())


async def update_opportunity(
    session: AsyncSession, tables: ExpansionTables, opportunity_id: str, *, changes: dict[str, Any], at: datetime,
) -> Record:
    """Apply already-validated changes. A stage move is progress (expiry counts from it again); a move
    into a closed stage stamps `closed_at` (the cool-down's start), closed by a person."""
    values = {**changes, "updated_at": at}
    if "stage" in changes:
        values["progressed_at"] = at
    if changes.get("stage") in CLOSED_STAGES:
        values |= {"closed_at": at, "closed_by": "person", "close_reason": None}
    return await work_items.update_item(session, tables.opportunities, opportunity_id, values)


async def account_signals(session: AsyncSession, tables: ExpansionTables, account_id: str) -> ExpansionSignals | None:
    a = tables.accounts
    row = (await session.execute(sa.select(a.c.state).where(a.c.account_id == account_id))).first()
    return None if row is None else signals_from_json(row[0])


async def pipeline_entries(session: AsyncSession, tables: ExpansionTables, *, closed_since: date | None
                           ) -> list[PipelineEntry]:
    """Every open opportunity, and the closed ones that closed on `closed_since` or later (none when None)."""
    o = tables.opportunities
    wanted: sa.ColumnElement[bool] = o.c.stage.in_(sorted(OPEN_STAGES))
    if closed_since is not None:
        wanted = sa.or_(wanted, o.c.closed_at >= sa.literal(datetime.combine(closed_since, time(), UTC)))
    query = sa.select(o.c.stage, o.c.currency, o.c.estimated_arr_uplift, o.c.progressed_at, o.c.closed_at).where(wanted)
    return [PipelineEntry(*row) for row in await session.execute(query)]
