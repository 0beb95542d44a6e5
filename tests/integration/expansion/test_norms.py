"""Cohort norms kept by the expansion service, against the real broker and database: a refresh builds a
version from every stored account, `usage_level` then fires for an account that uses more than the
accounts on its plan (and not for one that uses less), the setting turns it off, and a restarted
service judges with the version stored."""

from __future__ import annotations

from typing import Any

import pytest

from services.expansion.norms_store import NormsRefreshed
from shared.days import day_number, start_of_day
from tests.infra import Infra
from tests.integration.expansion.harness import Expansion, running, settings_for
from tests.stories import at
from tests.unit.expansion.factories import Story

pytestmark = pytest.mark.integration

DAYS = 40
NORMS_START = start_of_day(day_number(at(DAYS + 0.5)) + 1)
"""The first midnight after the last event of the book (day 40.5)."""


def _daily(account_id: str, per_day: float) -> Story:
    """A core contract on day 0, then aggregate API usage (no user ids) every day: flat, no growth."""
    story = Story(account_id)
    story.contract(0, seats=10)
    for day in range(1, DAYS + 1):
        story.add(day + 0.5, "usage.recorded", {"feature": "api_calls", "quantity": per_day})
    return story


def _book(unique: str) -> tuple[list[dict[str, Any]], str, str]:
    """Twelve peers at 10..120 calls a day, one account at 1,000 and one at 1: all on core."""
    peers = [_daily(f"peer{k}-{unique}", 10.0 * k) for k in range(1, 13)]
    high, low = _daily(f"high-{unique}", 1000.0), _daily(f"low-{unique}", 1.0)
    return [e for s in (*peers, high, low) for e in s.events], high.account_id, low.account_id


def _next_day(account_id: str, n: int = 0) -> dict[str, Any]:
    """One more usage event after the midnight the norms take effect from."""
    story = Story(account_id)
    story.add(DAYS + 1.5, "usage.recorded", {"feature": "api_calls", "quantity": 1.0})
    event = story.events[0]
    return {**event, "event_id": f"{account_id}-next-{n}"}


async def _kinds(expansion: Expansion, account_id: str) -> set[str]:
    rows = await expansion.rows("SELECT kind FROM {s}.opportunities WHERE account_id = :a", a=account_id)
    return {r.kind for r in rows}


async def _refresh(expansion: Expansion) -> NormsRefreshed:
    refreshed = await expansion.service.norms.refresh_if_due()
    assert refreshed is not None
    return refreshed


async def test_a_refresh_writes_a_version_and_usage_level_fires_live_against_the_cohort(
    infra: Infra, schema: str, unique: str
) -> None:
    events, high, low = _book(unique)
    async with running(settings_for(infra, schema=schema, unique=unique)) as expansion:
        await expansion.apply(events)
        assert "usage_level" not in await _kinds(expansion, high), "no norms yet: a level is not judged"

        refreshed = await _refresh(expansion)
        assert (refreshed.version, refreshed.accounts) == (1, 14)
        assert refreshed.effective_from == NORMS_START.isoformat(), "the first midnight after every event applied"
        [row] = await expansion.rows("SELECT version, effective_from, accounts, norms FROM {s}.cohort_norms")
        assert (row.version, row.effective_from, row.accounts) == (1, NORMS_START, 14)
        assert len(row.norms["levels"]["-/core"]["api_calls"]) == 14
        assert await expansion.service.norms.refresh_if_due() is None, "not due again within a day"

        await expansion.apply([_next_day(high), _next_day(low)])
        assert "usage_level" in await _kinds(expansion, high)
        assert "usage_level" not in await _kinds(expansion, low), "below most of its cohort: nothing to sell"
        [upsell] = [u for u in await expansion.upsells(at_least=1) if u["kind"] == "usage_level"]
        assert upsell["account_id"] == high and "similar accounts (-/core)" in upsell["reason"]


async def test_the_setting_turns_usage_level_off(infra: Infra, schema: str, unique: str) -> None:
    events, high, _ = _book(unique)
    settings = settings_for(infra, schema=schema, unique=unique, expansion_usage_level=False)
    async with running(settings) as expansion:
        await expansion.apply(events)
        await _refresh(expansion)
        await expansion.apply([_next_day(high)])
        assert "usage_level" not in await _kinds(expansion, high)


async def test_a_restarted_service_judges_with_the_stored_version_and_runs_no_refresh_when_off(
    infra: Infra, schema: str, unique: str
) -> None:
    events, high, _ = _book(unique)
    async with running(settings_for(infra, schema=schema, unique=unique)) as expansion:
        await expansion.apply(events)
        await _refresh(expansion)
    settings = settings_for(infra, schema=schema, unique=unique, expansion_norms_refresh_s=0)
    async with running(settings) as expansion:
        assert expansion.service.background == [], "refresh off: no refresh loop"
        async with expansion.service.runtime.sessions() as session:
            history = await expansion.service.norms.history(session)
        assert history.latest_version == 1 and history.at(NORMS_START).levels["-/core"]
        await expansion.apply([_next_day(high)])
        assert "usage_level" in await _kinds(expansion, high)
        assert (await expansion.rows("SELECT count(*) AS n FROM {s}.cohort_norms"))[0].n == 1
