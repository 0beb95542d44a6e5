"""Group-membership settings: how long an instance may be silent or stuck before its partitions move."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.kafka import make_consumer
from shared.settings import OrchardSettings

pytestmark = pytest.mark.unit


async def test_the_consumer_gets_the_configured_timeouts() -> None:
    settings = OrchardSettings(consumer_session_timeout_ms=9_000, consumer_heartbeat_interval_ms=1_000,
                               consumer_max_poll_interval_ms=12_000)
    consumer = make_consumer("127.0.0.1:1", group_id="g", client_id="c",
                             session_timeout_ms=settings.consumer_session_timeout_ms,
                             heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
                             max_poll_interval_ms=settings.consumer_max_poll_interval_ms)
    try:
        assert (consumer._session_timeout_ms, consumer._heartbeat_interval_ms, consumer._max_poll_interval_ms) == (
            9_000, 1_000, 12_000)
    finally:
        await consumer.stop()


@pytest.mark.parametrize(("session", "heartbeat"), [(6_000, 2_001), (3_000, 3_000)])
def test_heartbeats_must_fit_three_times_in_a_session(session: int, heartbeat: int) -> None:
    with pytest.raises(ValidationError, match="at most a third"):
        OrchardSettings(consumer_session_timeout_ms=session, consumer_heartbeat_interval_ms=heartbeat)
