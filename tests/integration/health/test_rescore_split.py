"""The scheduled rescore spread over instances (issue 10): each partition group is brought forward under a
lock of its own, so two instances' passes split the groups, every due account reaches its midnight
exactly once, and a pass leaves a group another pass holds to it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.health.pipeline import Pipeline
from services.health.scheduler import Rescorer, RescoreReport
from shared.db import create_engine, make_sessionmaker
from shared.passes import PassWiring, group_lock_key
from tests.integration.health.harness import Health, at, healthy

pytestmark = pytest.mark.integration

GROUPS = (None, 0, 1, 2)
QUIET = [f"split-{n:02d}" for n in range(12)]  # three accounts in each group


def _group_of(account_id: str) -> int | None:
    return GROUPS[int(account_id[-2:]) % len(GROUPS)]


async def _book(health: Health) -> None:
    """Twelve accounts silent since day 60, spread over groups None, 0, 1 and 2, and every group's stream at
    day 90 (a busy account's events): each pass brings the twelve to the midnight before day 90."""
    await health.apply(sorted((e for a in QUIET for e in healthy(a).events),
                              key=lambda e: (str(e["occurred_at"]), str(e["event_id"])))
                       + healthy("split-busy", days=90).in_time_order())
    async with health.service.runtime.engine.begin() as conn:
        for account in QUIET:
            await conn.execute(sa.text(f'UPDATE "{health.schema}".accounts SET partition = :g WHERE account_id = :a'),
                               {"g": _group_of(account), "a": account})
        await conn.execute(sa.text(
            f'INSERT INTO "{health.schema}".stream_watermarks (partition, event_at) SELECT g, event_at FROM '
            f'"{health.schema}".stream_watermarks, unnest(ARRAY[1, 2]) AS g WHERE partition = 0'))


class MeetingRescorer(Rescorer):
    """Holds its first group until the other instance holds one too: both passes are part-way at once."""

    def __init__(self, *, meet: asyncio.Barrier, pipeline: Pipeline, wiring: PassWiring) -> None:
        super().__init__(pipeline=pipeline, wiring=wiring)
        self._meet, self._met = meet, False
        self.worked: list[int | None] = []
        """The groups this pass brought accounts forward in (one that another pass had done by the time
        this one took its lock has none left due)."""

    async def _advance_group(self, group: int | None, until: datetime) -> RescoreReport:
        if not self._met:
            self._met = True
            await asyncio.wait_for(self._meet.wait(), timeout=30)
        report = await super()._advance_group(group, until)
        if report.accounts:
            self.worked.append(group)
        return report


@asynccontextmanager
async def instance(health: Health, meet: asyncio.Barrier) -> AsyncIterator[MeetingRescorer]:
    """A second instance's rescorer in all but the process: its own engine (connections, locks) and pipeline."""
    engine = create_engine(health.settings.database_url.get_secret_value(), pool_size=3)
    try:
        yield MeetingRescorer(meet=meet, pipeline=Pipeline(tables=health.service.tables, topics=health.settings.topics),
                              wiring=PassWiring(engine=engine, sessions=make_sessionmaker(engine), interval_s=3600,
                                                chunk=2, grace_s=health.settings.health_midnight_grace_s))
    finally:
        await engine.dispose()


async def _as_of(health: Health) -> dict[str, datetime]:
    return {r.account_id: r.as_of for r in await health.rows("SELECT account_id, as_of FROM {s}.accounts")}


async def test_two_instances_split_a_pass_and_bring_each_account_forward_once(health: Health) -> None:
    await _book(health)
    before = await _as_of(health)
    meet = asyncio.Barrier(2)
    async with instance(health, meet) as first, instance(health, meet) as second:
        one, two = await asyncio.gather(first.rescore_due(as_of=at(200)), second.rescore_due(as_of=at(200)))
    assert one is not None and two is not None
    assert one.accounts and two.accounts, "both instances brought accounts forward"
    assert sorted(first.worked + second.worked, key=str) == sorted(GROUPS, key=str), "each group by one of them"
    assert one.accounts + two.accounts == len(QUIET), "each due account once"

    after = await _as_of(health)
    assert all(after[a].date() == at(90).date() and after[a] > before[a] for a in QUIET)
    assert after["split-busy"] == before["split-busy"]
    history = await health.rows("SELECT account_id, as_of FROM {s}.score_history WHERE cause = 'schedule'")
    assert set(QUIET) <= {h.account_id for h in history}
    assert max(Counter((h.account_id, h.as_of) for h in history).values()) == 1, "no midnight scored twice"
    published = await health.records(health.topics.account_health, at_least=len(QUIET))
    assert max(Counter(r["event_id"] for r in published).values()) == 1
    churn = [r["event_id"] for r in await health.records(health.topics.churn_risk) if r["account_id"] in QUIET]
    assert len(set(churn)) == len(churn), "no alert decision emitted twice"

    again = await health.service.rescorer.rescore_due(as_of=at(200))
    assert again is not None and again.accounts == 0, "nothing left due"


async def _hold(conn: AsyncConnection, key: str, *, shared: bool = False) -> None:
    take = sa.func.pg_advisory_lock_shared if shared else sa.func.pg_advisory_lock
    await conn.execute(sa.select(take(sa.func.hashtext(key))))


async def test_a_pass_skips_only_the_groups_another_pass_holds(health: Health) -> None:
    await _book(health)
    before = await _as_of(health)
    key = f"health-scheduler:{health.schema}"
    in_group_1 = {a for a in QUIET if _group_of(a) == 1}
    async with health.service.runtime.engine.connect() as other_instance:
        await _hold(other_instance, group_lock_key(key, 1))
        report = await health.service.rescorer.rescore_due(as_of=at(200))
        assert report is not None and report.accounts == len(QUIET) - len(in_group_1)
        after = await _as_of(health)
        assert all(after[a] == before[a] for a in in_group_1), "group 1 left to the pass holding it"
        assert all(after[a].date() == at(90).date() for a in set(QUIET) - in_group_1)

        for group in GROUPS:
            if group != 1:
                await _hold(other_instance, group_lock_key(key, group))
        assert await health.service.rescorer.rescore_due(as_of=at(200)) is None, "every group held elsewhere"
        await other_instance.execute(sa.select(sa.func.pg_advisory_unlock_all()))
    report = await health.service.rescorer.rescore_due(as_of=at(200))
    assert report is not None and report.accounts == len(in_group_1)
    assert all(d.date() == at(90).date() for a, d in (await _as_of(health)).items() if a in QUIET)


async def test_the_norms_wait_for_a_quiet_moment_and_are_built_once(health: Health) -> None:
    """While another instance's pass is part-way through a group (it holds the pass's key shared), the
    norms are not built: a point it is evaluating might fall after the norms' start, scored without them."""
    await _book(health)
    key = f"health-scheduler:{health.schema}"
    async with health.service.runtime.engine.connect() as other_instance:
        await _hold(other_instance, key, shared=True)
        report = await health.service.rescorer.rescore_due(as_of=at(200))
        assert report is not None and report.accounts == len(QUIET), "the groups go on beside the other pass"
        assert not await health.rows("SELECT version FROM {s}.cohort_norms")
        await other_instance.execute(sa.select(sa.func.pg_advisory_unlock_shared(sa.func.hashtext(key))))
    meet = asyncio.Barrier(1)
    async with instance(health, meet) as first, instance(health, meet) as second:
        await asyncio.gather(first.rescore_due(as_of=at(200)), second.rescore_due(as_of=at(200)))
    versions = await health.rows("SELECT version, effective_from FROM {s}.cohort_norms")
    assert len(versions) == 1, "built by one of the two passes"
    (scored,) = (await health.rows("SELECT max(as_of) FROM {s}.accounts"))[0]
    assert versions[0].effective_from > scored, "in force only after every point already scored"
