from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.cli.stack import SERVICES, Stack, running_stack
from tests.conftest import new_unique
from tests.infra import Infra


async def drop_schemas(engine: AsyncEngine, stack: Stack) -> None:
    async with engine.begin() as conn:
        for service in SERVICES:
            await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{stack.schema(service)}" CASCADE'))


@pytest.fixture(scope="package")
async def stack(infra: Infra, engine: AsyncEngine, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """One set of running services for the CLI tests, with topics and schemas of its own; each test
    works on accounts and event ids of its own."""
    unique = new_unique()
    with running_stack(infra, unique, Path(tmp_path_factory.mktemp("cli-logs"))) as running:
        yield running
    await drop_schemas(engine, running)
