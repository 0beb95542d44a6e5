"""The fault suite's fixtures. A test here marked ``faults`` is long: it runs only when the marker
expression asks for it (``make test-faults``, ``-m faults``), so that ``make test`` stays short."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from tests.conftest import new_unique
from tests.faults.infra_control import PrivateInfra, private_infra


@pytest.fixture(autouse=True)
def _long_faults_only_when_asked(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("faults") and "faults" not in (request.config.option.markexpr or ""):
        pytest.skip("a long fault test: run with `make test-faults` (-m faults)")


@pytest.fixture
async def private() -> AsyncIterator[tuple[PrivateInfra, AsyncEngine]]:
    """A Kafka broker and a PostgreSQL of this test's own, which it may stop and start."""
    with private_infra(new_unique()) as infra:
        engine = create_engine(infra.infra.database_url, pool_size=2, application_name="orchard-fault-tests")
        try:
            yield infra, engine
        finally:
            await engine.dispose()
