"""Feeding a realistic book through ingest onto the canonical topics, once, and reading back what a
health run made of it: the per-account result, the stored history and the output events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.datasets.archetypes import generate
from tests.faults.observe import group_lag, settled, topic_values
from tests.faults.processes import Deployment
from tests.kafka_utils import produce

CANONICAL = ("USAGE", "INTERACTION", "CONTRACT")
STREAM_TIME_ONLY = {"ORCHARD_HEALTH_STREAM_QUIET_S": "1000000000", "ORCHARD_HEALTH_RESCORE_INTERVAL_S": "1",
                    "ORCHARD_HEALTH_MIDNIGHT_GRACE_S": "0"}
"""Health's scheduler judges silence only up to the stream's own time, never the wall clock's (a
stream-quiet time far beyond any test), and takes midnights without grace: runs that are compared
see the same points (test_batch_independence.py's docstring says why)."""


def archetype_book(*, accounts: int, months: int, seed: int) -> list[dict[str, Any]]:
    """The backtest's archetype book (usage in four telemetry styles, CRM, tickets, surveys, contracts,
    renewals, cancellations), ending months before today."""
    return list(generate(seed=seed, accounts=accounts, months=months))


async def through_ingest(deployment: Deployment, engine: AsyncEngine, events: Sequence[dict[str, Any]],
                         *, copies: int = 1) -> None:
    """Produce `events` (each `copies` times) to the raw topic, let ingest route them to the canonical
    topics, and stop ingest once they are all there."""
    ingest = deployment.processes.get("ingest") or deployment.add("ingest")
    ingest.start()
    ingest.wait_ready()
    bootstrap = deployment.infra.kafka_bootstrap
    raw = [(e["account_id"], orjson.dumps(e)) for e in events]
    for _ in range(copies):
        await produce(bootstrap, deployment.topic("RAW"), raw)
    await settled(bootstrap=bootstrap, engine=engine, groups={"orchard-ingest": [deployment.topic("RAW")]},
                  schemas=[deployment.schema("ingest")], outputs=[deployment.topic(t) for t in CANONICAL],
                  timeout=300, quiet_s=1.0)
    ingest.stop()


@dataclass(frozen=True)
class HealthOutcome:
    accounts: dict[str, tuple[float | None, str | None, str | None]]
    """account -> (score, grade, as_of) as stored at the end."""
    history: dict[str, list[tuple[Any, ...]]]
    """account -> every stored point (as_of, score, grade, previous score and grade, cause), in order."""
    health_changed: dict[str, dict[str, Any]]
    """event id -> payload without `emitted_at`, from the account-health topic."""
    churn_risk: dict[str, dict[str, Any]]
    """event id -> payload without `emitted_at`, from the churn-risk topic."""
    dead_letters: list[dict[str, Any]]
    duplicates_on_topics: int
    """Records on the output topics whose event id another record there already had."""


def _by_id(values: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], int]:
    out = {v["event_id"]: {k: x for k, x in v.items() if k != "emitted_at"} for v in values}
    return out, len(values) - len(out)


async def health_outcome(engine: AsyncEngine, bootstrap: str, *, schema: str, health_topic: str,
                         churn_topic: str, dlq_topic: str) -> HealthOutcome:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text(f'SELECT account_id, score, grade, as_of FROM "{schema}".accounts'))
        accounts = {r.account_id: (r.score, r.grade, r.as_of.isoformat() if r.as_of else None) for r in rows}
        points = await conn.execute(sa.text(
            "SELECT account_id, as_of, score, grade, previous_score, previous_grade, cause"
            f' FROM "{schema}".score_history ORDER BY account_id, id'))
        history: dict[str, list[tuple[Any, ...]]] = {}
        for p in points:
            history.setdefault(p.account_id, []).append(
                (p.as_of.isoformat(), p.score, p.grade, p.previous_score, p.previous_grade, p.cause))
    health, health_dups = _by_id(await topic_values(bootstrap, health_topic))
    churn, churn_dups = _by_id(await topic_values(bootstrap, churn_topic))
    return HealthOutcome(accounts, history, health, churn, await topic_values(bootstrap, dlq_topic),
                         health_dups + churn_dups)


async def health_settled(deployment: Deployment, engine: AsyncEngine, name: str, *, timeout: float) -> None:
    process = deployment[name]
    env = process.env
    await settled(
        bootstrap=deployment.infra.kafka_bootstrap, engine=engine,
        groups={f"orchard-{env['ORCHARD_SERVICE_NAME']}": [deployment.topic(t) for t in CANONICAL]},
        schemas=[env["ORCHARD_HEALTH_SCHEMA"]],
        outputs=[env["ORCHARD_TOPIC_ACCOUNT_HEALTH"], env["ORCHARD_TOPIC_CHURN_RISK"]], timeout=timeout)


async def health_lag(deployment: Deployment, name: str) -> int:
    group = f"orchard-{deployment[name].env['ORCHARD_SERVICE_NAME']}"
    return await group_lag(deployment.infra.kafka_bootstrap, group, [deployment.topic(t) for t in CANONICAL])

