from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.infra import Infra
from tests.integration.plumbing_harness import Setup
from tests.kafka_utils import create_topic


@pytest.fixture
async def plumbing(infra: Infra, schema: str, unique: str) -> AsyncIterator[Setup]:
    s = Setup(schema, f"test.in.{unique}", f"test.out.{unique}", f"test.dlq.{unique}", f"plumbing-{unique}")
    for topic in (s.in_topic, s.out_topic, s.dlq_topic):
        await create_topic(infra.kafka_bootstrap, topic)
    yield s
