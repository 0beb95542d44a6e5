"""What the routes need, set once on the app (``app.state.renewals``) and handed to them by ``context``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.renewals.store import RenewalsTables
from shared.fx import ExchangeRates


@dataclass(frozen=True)
class RenewalsContext:
    sessions: async_sessionmaker[AsyncSession]
    tables: RenewalsTables
    window_days: int
    clock: Callable[[], datetime]
    """"Now": today's date for windows and days to renewal, and updated_at."""
    forecast_min_closed: int = 20
    """Closed renewals a risk band needs before the forecast uses the book's own figure for it."""
    exchange_rates: ExchangeRates | None = None
    """The optional table for consolidated totals (``ORCHARD_FX_RATES``)."""


def context(request: Request) -> RenewalsContext:
    found: RenewalsContext = request.app.state.renewals
    return found


Ctx = Annotated[RenewalsContext, Depends(context)]
"""A route parameter: the service's context (``context``)."""
