"""One record of accepted ids for both ways in, and its retention window."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.retention import ProcessedEventsPruner
from tests.integration.ingest.harness import Ingest, event_ids
from tests.kafka_utils import read_all, wait_for
from tests.unit.ingest.factories import make_event

pytestmark = pytest.mark.integration


def _raw(event: dict[str, object]) -> tuple[str, bytes]:
    return str(event["account_id"]), orjson.dumps(event)


async def test_the_same_event_id_twice_over_http_is_routed_once(ingest: Ingest) -> None:
    event = make_event()
    first, second = await ingest.post(event), await ingest.post({"events": [event, make_event()]})
    assert first.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert second.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    ids = event_ids(await read_all(ingest.bootstrap, ingest.topics.usage))
    assert len(ids) == 2 and ids.count(event["event_id"]) == 1


async def test_accepted_over_http_then_sent_on_kafka_is_routed_once(ingest: Ingest) -> None:
    event, marker = make_event(), make_event()
    assert (await ingest.post(event)).json()["accepted"] == 1
    await ingest.produce_raw([_raw(event), _raw(marker)])

    # The marker, produced after the duplicate, shows the raw batch was handled.
    records = await ingest.wait_for_records(ingest.topics.usage, 2)
    assert sorted(event_ids(records)) == sorted([event["event_id"], marker["event_id"]])


async def test_accepted_from_kafka_then_posted_is_a_duplicate(ingest: Ingest) -> None:
    event = make_event()
    await ingest.produce_raw([_raw(event)])
    await ingest.wait_for_records(ingest.topics.usage, 1)

    reply = await ingest.post(event)
    assert reply.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert event_ids(await read_all(ingest.bootstrap, ingest.topics.usage)) == [event["event_id"]]


async def test_ids_older_than_the_window_are_pruned_in_batches_and_accepted_again(
    ingest: Ingest, engine: AsyncEngine
) -> None:
    old, recent = make_event(), make_event()
    assert (await ingest.post({"events": [old, recent]})).json()["accepted"] == 2
    table = f'"{ingest.settings.ingest_schema}".processed_events'
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(f"INSERT INTO {table} (event_id, processed_at) "
                    "SELECT 'filler-' || n, now() - interval '40 days' FROM generate_series(1, 25) AS n")
        )
        await conn.execute(
            sa.text(f"UPDATE {table} SET processed_at = now() - interval '31 days' WHERE event_id = :id"),
            {"id": old["event_id"]},
        )

    assert ingest.service.runtime.pruner.retention == timedelta(days=30), "ingest keeps its dedupe window"
    pruner = ProcessedEventsPruner(
        sessions=ingest.service.runtime.sessions,
        processed_events=ingest.service.runtime.tables.processed_events,
        retention=timedelta(days=30),
        interval_s=3600,
        batch_size=10,
    )
    assert await pruner.prune_once() == 26
    async with engine.connect() as conn:
        left = set((await conn.scalars(sa.text(f"SELECT event_id FROM {table}"))).all())
    assert left == {recent["event_id"]}

    again = await ingest.post({"events": [old, recent]})
    assert again.json() == {"accepted": 1, "duplicates": 1, "rejected": []}

    async def old_routed_twice() -> bool:
        return event_ids(await read_all(ingest.bootstrap, ingest.topics.usage)).count(old["event_id"]) == 2

    await wait_for(old_routed_twice, timeout=10, what="the forgotten id routed again")
