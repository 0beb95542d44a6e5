"""`python -m shared.migrations <service>` creates a service's schema without starting the service."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.infra import REPO, Infra

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", ["ingest", "health", "expansion"])
async def test_the_command_migrates_each_service_to_head_and_is_idempotent(
    infra: Infra, engine: AsyncEngine, schema: str, service: str
) -> None:
    env = {**os.environ, "ORCHARD_DATABASE_URL": infra.database_url}
    for _ in range(2):
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "shared.migrations", service, "--schema", schema],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, done.stderr
    async with engine.connect() as conn:
        tables = set((await conn.execute(sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"), {"s": schema})).scalars())
    assert {"processed_events", "outbox", "alembic_version"} <= tables


def test_an_unknown_service_is_refused_clearly() -> None:
    done = subprocess.run([sys.executable, "-m", "shared.migrations", "nosuch"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0 and "no migrations for a service called 'nosuch'" in done.stderr
