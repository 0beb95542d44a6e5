"""What the routes need, set once on the app (``app.state.expansion``) and handed to them by ``context``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.expansion import queries
from services.expansion.domain import Catalogue, ExpansionSignals, Thresholds
from services.expansion.store import ExpansionTables
from shared.errors import ApiError
from shared.fx import ExchangeRates


@dataclass(frozen=True)
class ExpansionContext:
    sessions: async_sessionmaker[AsyncSession]
    tables: ExpansionTables
    catalogue: Catalogue
    thresholds: Thresholds
    clock: Callable[[], datetime]
    """"Now", for updated_at and closed_at (the cool-down's start), and what the pipeline is judged at."""
    stage_weights: Mapping[str, Decimal]
    exchange_rates: ExchangeRates | None = None


def context(request: Request) -> ExpansionContext:
    found: ExpansionContext = request.app.state.expansion
    return found


Ctx = Annotated[ExpansionContext, Depends(context)]
"""A route parameter: the service's context (``context``)."""


async def seen_account(ctx: ExpansionContext, account_id: str) -> tuple[ExpansionSignals, datetime]:
    """The account's signals and latest event time; 404 for an account no event has reached."""
    async with ctx.sessions() as session:
        signals = await queries.account_signals(session, ctx.tables, account_id)
    if signals is None or signals.latest_at is None:
        raise ApiError(404, f"no events seen for account {account_id}")
    return signals, signals.latest_at
