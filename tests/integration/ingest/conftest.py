from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.infra import Infra
from tests.integration.ingest.harness import Ingest, running, settings_for


@pytest.fixture
async def ingest(infra: Infra, schema: str, unique: str) -> AsyncIterator[Ingest]:
    """The ingest service with its own topics, schema and consumer group, consuming its raw topic."""
    async with running(settings_for(infra, schema=schema, unique=unique)) as service:
        yield service
