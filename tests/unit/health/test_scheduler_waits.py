"""The scheduler does not judge silence while the consumer still has a backlog."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from services.health.scheduler import Rescorer, RescoreReport
from shared.passes import PassWiring

pytestmark = pytest.mark.unit


class CountingRescorer(Rescorer):
    passes = 0

    async def rescore_due(self, *, as_of: datetime | None = None) -> RescoreReport | None:
        self.passes += 1
        return RescoreReport(accounts=0, changed=0, alerts=0, chunks=0)


def rescorer(caught_up: Any) -> CountingRescorer:
    pipeline: Any = type("P", (), {"tables": type("T", (), {"schema": "s"})()})()
    wiring = PassWiring(engine=None, sessions=None, interval_s=0.01, chunk=10,  # type: ignore[arg-type]
                        caught_up=caught_up)
    return CountingRescorer(pipeline=pipeline, wiring=wiring)


async def _run_briefly(r: Rescorer) -> None:
    task = asyncio.create_task(r.run())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_no_pass_while_the_consumer_has_a_backlog() -> None:
    r = rescorer(lambda: False)
    await _run_briefly(r)
    assert r.passes == 0


async def test_passes_once_the_consumer_has_caught_up() -> None:
    r = rescorer(lambda: True)
    await _run_briefly(r)
    assert r.passes >= 2
