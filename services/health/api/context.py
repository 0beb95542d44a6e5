"""What the routes need, set once on the app (``app.state.health``) and handed to them by ``context``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.health.pipeline import Pipeline
from services.health.scheduler import Rescorer
from services.health.store import HealthTables
from shared.guards import ConcurrencyLimit

EXPENSIVE_AT_ONCE = 2


@dataclass(frozen=True)
class HealthContext:
    sessions: async_sessionmaker[AsyncSession]
    tables: HealthTables
    rescorer: Rescorer
    pipeline: Pipeline
    """For reads at "now": the cached cohort norms (the store is read through its own session)."""
    clock: Callable[[], datetime]
    """"Now", for override expiry and days to renewal."""
    expensive: ConcurrencyLimit = field(
        default_factory=lambda: ConcurrencyLimit(EXPENSIVE_AT_ONCE, what="scorecard previews or rescores"))
    """Previews and scorecard publishing score a whole segment: a few at once per process, never a pile."""


def context(request: Request) -> HealthContext:
    found: HealthContext = request.app.state.health
    return found


Ctx = Annotated[HealthContext, Depends(context)]
"""A route parameter: the service's context (``context``)."""
