"""What the routes need, set once on the app (``app.state.expansion``) and handed to them by ``context``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.expansion.domain import Catalogue, Thresholds
from services.expansion.store import ExpansionTables


@dataclass(frozen=True)
class ExpansionContext:
    sessions: async_sessionmaker[AsyncSession]
    tables: ExpansionTables
    catalogue: Catalogue
    thresholds: Thresholds
    clock: Callable[[], datetime]
    """"Now", for updated_at and closed_at (the cool-down's start)."""


def context(request: Request) -> ExpansionContext:
    found: ExpansionContext = request.app.state.expansion
    return found
