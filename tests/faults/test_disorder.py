"""Issue 7, duplicates and disorder: one book sent in order, and sent again with every account's events
shuffled (each event twice), through ingest and health as real processes. Health's state per account,
the signals folded from the events and the last event's time, must be the same.

What legitimately depends on order, and is therefore not compared: an event that arrives after later
ones of its account is late, and is scored at the account's latest point (never moving time back), so
the points themselves (the stored history, the latest point `as_of`, the grades in between, the
health.changed and churn-risk records) and the cohort norms built from the accounts' state while the
stream flows follow arrival order. A read scores the signals as of now, whatever the points were. The
fold is order-independent within `HORIZON_DAYS` (120) of the account's latest event; the book spans
three months, inside it. (Measured: 4 of 30 accounts ended with another latest point, 2025-03-31
07:13 in order against 17:30 shuffled, with the same signals and last event.)
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import new_unique
from tests.faults.history import STREAM_TIME_ONLY, archetype_book, health_settled, through_ingest
from tests.faults.observe import drop_schemas
from tests.faults.processes import Deployment
from tests.infra import Infra

pytestmark = [pytest.mark.integration, pytest.mark.faults]

BOOK = {"accounts": 30, "months": 3, "seed": 5}


def _shuffled_within_accounts(events: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """The same events, each account's in a random order, the accounts' streams interleaved as before."""
    rng = random.Random(seed)
    by_account: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_account.setdefault(event["account_id"], []).append(event)
    for own in by_account.values():
        rng.shuffle(own)
    position = dict.fromkeys(by_account, 0)
    out = []
    for event in events:
        account = event["account_id"]
        out.append(by_account[account][position[account]])
        position[account] += 1
    return out


async def _health_state(engine: AsyncEngine, schema: str) -> dict[str, tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text(f'SELECT account_id, signals, last_event_at FROM "{schema}".accounts'))
        return {r.account_id: (r.signals, r.last_event_at) for r in rows}


async def _run(infra: Infra, engine: AsyncEngine, logs: Path, events: list[dict[str, Any]], *,
               copies: int) -> dict[str, tuple[Any, ...]]:
    deployment = Deployment(infra, new_unique(), logs)
    try:
        await through_ingest(deployment, engine, events, copies=copies)
        deployment.add("health", **STREAM_TIME_ONLY, ORCHARD_SERVICE_NAME=f"health-{deployment.unique}")
        deployment["health"].start()
        await health_settled(deployment, engine, "health", timeout=900)
        return await _health_state(engine, deployment.schema("health"))
    finally:
        deployment.stop_all()
        await drop_schemas(engine, deployment.schemas())


@pytest.mark.timeout(1500)
async def test_a_shuffled_and_doubled_stream_folds_to_the_same_state_as_the_ordered_one(
    infra: Infra, engine: AsyncEngine, tmp_path: Path
) -> None:
    book = archetype_book(**BOOK)
    shuffled = _shuffled_within_accounts(book, seed=3)
    assert shuffled != book and sorted(e["event_id"] for e in shuffled) == sorted(e["event_id"] for e in book)
    in_order = await _run(infra, engine, tmp_path / "in-order", book, copies=1)
    disorder = await _run(infra, engine, tmp_path / "shuffled", shuffled, copies=2)
    assert len(in_order) == BOOK["accounts"], "every account of the book is folded"
    differ = sorted(a for a in in_order.keys() | disorder.keys() if in_order.get(a) != disorder.get(a))
    assert not differ, f"{len(differ)} accounts differ: {[_difference(a, in_order, disorder) for a in differ[:3]]}"


def _difference(account: str, a: dict[str, tuple[Any, ...]], b: dict[str, tuple[Any, ...]]) -> str:
    if account not in a or account not in b:
        return f"{account} in one run only"
    (signals_a, *rest_a), (signals_b, *rest_b) = a[account], b[account]
    keys = sorted(k for k in signals_a.keys() | signals_b.keys() if signals_a.get(k) != signals_b.get(k))
    parts = [f"{k}: {str(signals_a.get(k))[:160]} / {str(signals_b.get(k))[:160]}" for k in keys[:2]]
    if rest_a != rest_b:
        parts.append(f"last event: {rest_a} / {rest_b}")
    return f"{account}: " + "; ".join(parts)
