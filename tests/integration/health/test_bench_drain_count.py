"""What bench.scaleout counts as "drained", against the real health service: the book's events applied, not
every id in `processed_events`. Health's alert inbox records there the churn-risk records it reads back
(its own alerts and other services'), so a count of every id reached the book's size while the last of
the book was still unread, the bench stopped the instances early, and two runs over one book "differed"
(82,362 against 82,794 history rows): they had applied different parts of it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.health import feed
from bench.scaleout import BOOK, book_applied
from services.health.inbox import PROCESSED_PREFIX
from tests.infra import Infra
from tests.integration.health.harness import Health, running, settings_for
from tests.integration.health.test_inbox import publish, renewal_alert
from tests.kafka_utils import wait_for

pytestmark = pytest.mark.integration

HELD_BACK = 5
ALERTS = 8


async def _count(health: Health, where: str) -> int:
    return int((await health.rows(f"SELECT count(*) FROM {{s}}.processed_events WHERE {where}"))[0][0])


async def test_the_drain_waits_for_the_books_events_not_for_the_alerts_the_inbox_read_back(
    infra: Infra, schema: str, unique: str
) -> None:
    book = feed(10, 60, now=datetime.now(UTC).replace(microsecond=0), prefix=BOOK)
    async with running(settings_for(infra, schema=schema, unique=unique), consume=True) as health:
        engine = health.service.runtime.engine
        await health.produce(book[:-HELD_BACK])
        await publish(health, *(renewal_alert(f"renewing-{n}-{unique}", "raised", 10) for n in range(ALERTS)))

        async def both_read() -> bool:
            inbox = await _count(health, f"event_id LIKE '{PROCESSED_PREFIX}%'")
            return inbox >= ALERTS and await _count(health, "true") - inbox == len(book) - HELD_BACK

        await wait_for(both_read, timeout=60, what="the book but its tail applied, the alerts read")
        # Every processed id together is past the book's size (the old rule said "drained" here) ...
        assert await _count(health, "true") >= len(book)
        # ... but the book's tail is still to come.
        assert await book_applied(engine, schema) == len(book) - HELD_BACK

        await health.produce(book[-HELD_BACK:])

        async def all_applied() -> bool:
            return await book_applied(engine, schema) == len(book)

        await wait_for(all_applied, timeout=60, what="the whole book applied")
