from __future__ import annotations

import asyncio
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator

import pytest
import sqlalchemy as sa
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from tests.infra import Infra, provide_infra

SESSION_UNIQUES: list[str] = []
"""Every suffix this session gave out: its topics are deleted at the end (a broker that keeps every
test's topics runs out of file handles after a few hundred runs)."""


def new_unique() -> str:
    """A short random suffix, so tests never see each other's topics, schemas or groups."""
    suffix = uuid.uuid4().hex[:10]
    SESSION_UNIQUES.append(suffix)
    return suffix


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with provide_infra() as provided:
        yield provided
        asyncio.run(_delete_session_topics(provided.kafka_bootstrap))


async def _delete_session_topics(bootstrap: str) -> None:
    """Only this session's topics: others may be running against the same broker."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="orchard-tests-cleanup")
    try:
        await admin.start()
        mine = [t for t in await admin.list_topics() if any(u in t for u in SESSION_UNIQUES)]
        for start in range(0, len(mine), 100):
            await admin.delete_topics(mine[start:start + 100])
    except KafkaError as exc:  # cleanup is a courtesy: never fail a green run for it
        warnings.warn(f"test topics not deleted: {exc!r}", stacklevel=1)
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def engine(infra: Infra) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(infra.database_url, pool_size=5, application_name="orchard-tests")
    yield eng
    await eng.dispose()


@pytest.fixture
def unique() -> str:
    return new_unique()


@pytest.fixture
async def schema(engine: AsyncEngine, unique: str) -> AsyncIterator[str]:
    name = f"t_{unique}"
    yield name
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
