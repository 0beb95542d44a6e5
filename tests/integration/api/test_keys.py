"""A service process started without ``ORCHARD_API_KEYS`` refuses to start, with a clear error, before
it connects to anything; the audit identity is the key's name."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from tests.infra import REPO
from tests.integration.api.conftest import SERVICES, Apis
from tests.services import WRITER

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_without_api_keys_refuses_to_start(service: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ORCHARD_API_KEYS"}
    # Nothing listens there: the refusal must come before any connection is tried.
    env |= {"ORCHARD_KAFKA_BOOTSTRAP": "127.0.0.1:1", "ORCHARD_DATABASE_URL": "postgresql+asyncpg://x@127.0.0.1:1/x"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", f"services.{service}", cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode not in (0, None)
    assert b"ORCHARD_API_KEYS is not set" in stderr + stdout


async def test_acknowledgements_overrides_and_scorecards_record_the_key_name(apis: Apis) -> None:
    async with apis.client("health", WRITER) as health:
        acked = await health.post(f"/v1/alerts/{apis.ids['alert_id']}/ack", json={"note": "called"})
        override = await health.put("/v1/accounts/acct-h/overrides/grade",
                                    json={"value": "yellow", "reason": "QBR went well",
                                          "expires_at": "2099-01-01T00:00:00Z"})
    assert acked.json()["acknowledged_by"] == "writer"
    assert override.json()["set_by"] == "writer"
    # (A published scorecard's created_by: tests/integration/health/test_rescoring.py.)
