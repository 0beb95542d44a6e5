from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.infra import Infra
from tests.integration.health.harness import Health, running, settings_for


@pytest.fixture
async def health(infra: Infra, schema: str, unique: str) -> AsyncIterator[Health]:
    """The health service with its own topics, schema and consumer group; events fed to its handler."""
    async with running(settings_for(infra, schema=schema, unique=unique)) as service:
        yield service
