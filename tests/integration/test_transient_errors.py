"""A deadlock reported by the real PostgreSQL is classified as transient (retry), not as bad data."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.batch_failures import is_infrastructure_error

pytestmark = pytest.mark.integration


async def test_a_real_deadlock_is_retried_not_dead_lettered(engine: AsyncEngine, schema: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await conn.execute(sa.text(f'CREATE TABLE "{schema}".t (k int primary key, v int)'))
        await conn.execute(sa.text(f'INSERT INTO "{schema}".t VALUES (1, 0), (2, 0)'))
    both_locked_first_row = asyncio.Barrier(2)

    async def update(first: int, second: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'UPDATE "{schema}".t SET v = v + 1 WHERE k = :k'), {"k": first})
            await both_locked_first_row.wait()
            await conn.execute(sa.text(f'UPDATE "{schema}".t SET v = v + 1 WHERE k = :k'), {"k": second})

    results = await asyncio.gather(update(1, 2), update(2, 1), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1, "Postgres breaks the deadlock by failing one of the two"
    assert isinstance(errors[0], sa.exc.DBAPIError)
    assert is_infrastructure_error(errors[0])
    assert not is_infrastructure_error(ValueError("bad data"))
