"""The outbox under concurrent writers and relay takeovers, against the real broker and database.

Writers commit out of id order (a sequence is not a commit order): each takes an account's row
lock, writes its rows with the project's ``write_outbox``, holds the transaction open for a random
0-50 ms, then commits (or, now and then, rolls back). Meanwhile the relay publishes, and its lead
moves twice: the first leader is SIGKILLed mid-stream inside an open Kafka transaction (its batch
claimed and sent, not committed), the second is stopped gracefully. Every
committed row must reach the topic exactly once, each account's rows in the order they were
written, and no rolled-back row at all.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine, make_sessionmaker, plumbing_tables, unit_of_work
from shared.migrations import upgrade_to_head
from shared.outbox import OutboxRelay, OutgoingMessage, write_outbox
from tests.infra import Infra
from tests.integration.plumbing_harness import start_process, worker_env_base
from tests.integration.plumbing_service import VERSIONS
from tests.kafka_utils import create_topic, read_all, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.faults]

WRITERS = 20
TRANSACTIONS = 1600  # about 4,800 rows, 1-5 per transaction
ACCOUNTS = 12
HOLD_S = 0.05
ROLLBACK_SHARE = 0.05
HANG_AFTER_ROWS = 1500


class _RolledBack(Exception):
    pass


async def test_concurrent_writers_and_relay_takeovers_publish_every_committed_row_once_in_order(
    infra: Infra, engine: AsyncEngine, schema: str, unique: str
) -> None:
    out_topic, progress_topic = f"test.outbox.{unique}", f"test.outbox-progress.{unique}"
    await create_topic(infra.kafka_bootstrap, out_topic, partitions=3)
    await create_topic(infra.kafka_bootstrap, progress_topic, partitions=1)
    await upgrade_to_head(engine, schema=schema, versions_dir=VERSIONS)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE TABLE "{schema}".accounts (account_id text PRIMARY KEY, seq int NOT NULL)'))
        await conn.execute(sa.text(f'INSERT INTO "{schema}".accounts SELECT \'acct-\' || n, 0 '
                                   f"FROM generate_series(1, {ACCOUNTS}) AS n"))
    outbox = plumbing_tables(sa.MetaData(schema=schema)).outbox
    writers_engine = create_engine(infra.database_url, pool_size=WRITERS, application_name="outbox-writers")
    relay_engine = create_engine(infra.database_url, pool_size=4, application_name="outbox-relays")
    sessions = make_sessionmaker(writers_engine)

    def relay() -> OutboxRelay:
        return OutboxRelay(service="outbox-test", engine=relay_engine, table=outbox, bootstrap=infra.kafka_bootstrap,
                           progress_topic=progress_topic, batch_size=200, idle_poll_s=0.05, leader_poll_s=0.1)

    finished = 0

    async def write(writer: int) -> None:
        nonlocal finished
        rng = random.Random(f"{unique}-{writer}")
        for _ in range(TRANSACTIONS // WRITERS):
            account, rows = f"acct-{rng.randint(1, ACCOUNTS)}", rng.randint(1, 5)
            try:
                async with unit_of_work(sessions) as session:
                    # The account's row lock serialises its writers, as the services' handlers do.
                    last = await session.scalar(
                        sa.text(f'UPDATE "{schema}".accounts SET seq = seq + :n WHERE account_id = :a RETURNING seq'),
                        {"n": rows, "a": account},
                    )
                    assert last is not None
                    await write_outbox(session, outbox, [
                        OutgoingMessage(topic=out_topic, key=account, event_id=f"{account}:{seq}",
                                        value=orjson.dumps({"account": account, "seq": seq}))
                        for seq in range(last - rows + 1, last + 1)
                    ])
                    await asyncio.sleep(rng.uniform(0, HOLD_S))
                    if rng.random() < ROLLBACK_SHARE:
                        raise _RolledBack
            except _RolledBack:
                pass
            finished += 1

    def writes_past(share: float) -> object:
        async def check() -> bool:
            return finished >= share * TRANSACTIONS
        return check

    first = start_process("tests.integration.outbox_relay_worker",
                          worker_env_base(infra, RELAY_SCHEMA=schema, RELAY_PROGRESS_TOPIC=progress_topic,
                                          RELAY_HANG_AFTER_ROWS=str(HANG_AFTER_ROWS)))
    second, third = relay(), relay()
    relays: list[asyncio.Task[None]] = []
    try:
        assert first.stdout is not None
        assert (await asyncio.to_thread(first.stdout.readline)).strip() == "LEADING"
        relays.append(asyncio.create_task(second.run()))  # waits for the lead
        writers = asyncio.gather(*(write(w) for w in range(WRITERS)))

        hanging = await asyncio.wait_for(asyncio.to_thread(first.stdout.readline), timeout=120)
        assert hanging.strip() == "HANGING" and finished < 0.8 * TRANSACTIONS
        first.kill()  # mid-stream, inside its Kafka transaction
        assert await asyncio.to_thread(first.wait, 30) != 0

        async def second_leads() -> bool:
            return second.is_leader

        await wait_for(second_leads, timeout=60, what="the standby relay to take the lead")
        await wait_for(writes_past(0.7), timeout=120, what="70% of the writes")  # type: ignore[arg-type]
        relays.append(asyncio.create_task(third.run()))
        second.stop()  # a graceful hand-over this time
        await writers

        async def outbox_empty() -> bool:
            async with engine.connect() as conn:
                return not await conn.scalar(sa.select(sa.func.count()).select_from(outbox))

        async def third_leads() -> bool:
            return third.is_leader

        # When the writers finish before the hand-over, the second relay may have drained everything
        # itself; the third must still take the lead it released.
        await wait_for(third_leads, timeout=60, what="the third relay to take the lead")
        await wait_for(outbox_empty, timeout=120, what="the outbox to drain")
    finally:
        if first.poll() is None:
            first.kill()
        second.stop()
        third.stop()
        await asyncio.gather(*relays, return_exceptions=True)
        await writers_engine.dispose()
        await relay_engine.dispose()

    async with engine.connect() as conn:
        written = dict((await conn.execute(sa.text(f'SELECT account_id, seq FROM "{schema}".accounts'))).all())
    published: dict[str, list[int]] = defaultdict(list)
    for record in await read_all(infra.kafka_bootstrap, out_topic):  # read_committed
        row = orjson.loads(record.value)
        published[row["account"]].append(row["seq"])
    committed = {(a, s) for a, last in written.items() for s in range(1, last + 1)}
    sent = Counter((a, s) for a, seqs in published.items() for s in seqs)
    lost = committed - set(sent)
    doubled = {row for row, n in sent.items() if n > 1}
    phantom = set(sent) - committed
    disordered = [a for a, seqs in published.items() if seqs != sorted(seqs)]
    figures = (f"{len(committed)} rows committed, {len(lost)} never published, {len(doubled)} published twice, "
               f"{len(phantom)} rolled-back rows published, {len(disordered)} accounts out of order")
    print(figures)
    assert len(committed) > 4000, figures
    assert not lost and not doubled and not phantom and not disordered, figures
