from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from tests.infra import Infra, provide_infra


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with provide_infra() as provided:
        yield provided


@pytest.fixture(scope="session")
async def engine(infra: Infra) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(infra.database_url, pool_size=5, application_name="orchard-tests")
    yield eng
    await eng.dispose()


@pytest.fixture
def unique() -> str:
    """A short random suffix, so tests never see each other's topics, schemas or groups."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def schema(engine: AsyncEngine, unique: str) -> AsyncIterator[str]:
    name = f"t_{unique}"
    yield name
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
