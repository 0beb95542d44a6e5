"""The health schema's tables, and the read side of the path shared by the handler, the scheduler and
a scorecard change: lock and load a set of accounts (their evaluations are saved by
`services.health.store_writes`). Set-based statements only, and nothing here commits: the caller's
unit of work does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.health.domain import (
    CohortNorms,
    NormsHistory,
    Scorecard,
    StoredAccount,
    alert_state_from_json,
    build_norms,
    health_score_from_json,
    norms_from_json,
    norms_to_json,
    recent_scores_from_json,
    signals_from_json,
    validate_scorecard,
)
from services.health.timeline_store import TimelineTables, timeline_tables
from shared.db import PlumbingTables, plumbing_tables, qualified
from shared.norm_store import cohort_norms_table, latest_version, load_versions, save_version
from shared.tables import declare
from shared.watermarks import stream_watermarks_table


@dataclass(frozen=True)
class HealthTables:
    schema: str
    plumbing: PlumbingTables
    accounts: sa.Table
    score_history: sa.Table
    scorecards: sa.Table
    alerts: sa.Table
    overrides: sa.Table
    cohort_norms: sa.Table
    stream_watermarks: sa.Table
    timeline: TimelineTables
    override_history: sa.Table


def health_tables(schema: str) -> HealthTables:
    """The tables of one health schema (``ORCHARD_HEALTH_SCHEMA``); the migration creates them."""
    md = sa.MetaData(schema=schema)
    accounts = declare(md, "accounts", """
        account_id text primary key, segment text null, signals jsonb, health jsonb null,
        score float8 null, grade text null, scorecard_segment text null, scorecard_version int null,
        as_of timestamptz null, arr numeric null, currency text null, renewal_date date null,
        last_event_at timestamptz null, alert_state jsonb, recent_scores jsonb, scored_at timestamptz,
        norm_sample jsonb null, partition int null
    """)
    history = declare(md, "score_history", """
        id bigint identity primary key, account_id text, as_of timestamptz, score float8, grade text,
        previous_score float8 null, previous_grade text null, components jsonb, component_deltas jsonb,
        reasons jsonb, scorecard_segment text, scorecard_version int, cause text, recorded_at timestamptz
    """)
    scorecards = declare(md, "scorecards", """
        segment text primary key, version int primary key, config jsonb, created_by text,
        created_at timestamptz
    """)
    # origin onward, the inbox: who raised it (health, or read from the churn-risk topic), snooze, assignment
    alerts = declare(md, "alerts", """
        alert_id text primary key, account_id text, kind text, severity text, status text,
        episode_start timestamptz, raised_at timestamptz, updated_at timestamptz,
        resolved_at timestamptz null, acknowledged_by text null, acknowledged_at timestamptz null,
        acknowledged_note text null, last_event_id text, payload jsonb, origin text default 'health',
        snoozed_until timestamptz null, snoozed_by text null, assigned_to text null, assigned_by text null,
        assigned_at timestamptz null
    """)
    overrides = declare(md, "overrides", """
        account_id text primary key, kind text primary key, value jsonb, reason text, set_by text,
        set_at timestamptz, expires_at timestamptz
    """)
    override_history = declare(md, "override_history", """
        id bigint identity primary key, account_id text, kind text, action text, value jsonb null, reason text null,
        expires_at timestamptz null, by text, at timestamptz
    """)
    norms = cohort_norms_table(md)
    watermarks = stream_watermarks_table(md)
    return HealthTables(schema, plumbing_tables(md), accounts, history, scorecards, alerts, overrides, norms,
                        watermarks, timeline_tables(md), override_history)


# --- load --------------------------------------------------------------------------------------


async def lock_accounts(session: AsyncSession, tables: HealthTables, account_ids: Iterable[str]) -> None:
    """Serialise writers of the same accounts (two instances may hold the usage and the interaction
    partition of one account; the scheduler may be rescoring it). Transaction-scoped advisory locks,
    taken in one global order so two batches never deadlock; they also cover accounts that have no
    row yet, which row locks cannot. Must come before `load_accounts` in the same transaction, so the
    load sees what the previous holder committed."""
    await session.execute(
        sa.text(
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(:ns || a, 0) AS k "
            "FROM unnest(CAST(:ids AS text[])) AS a ORDER BY k) AS keys"
        ),
        {"ns": f"{tables.schema}:account:", "ids": list(account_ids)},
    )


async def load_accounts(
    session: AsyncSession, tables: HealthTables, account_ids: Sequence[str]
) -> dict[str, StoredAccount]:
    """The stored state of these accounts in ONE query; accounts not seen before are absent."""
    rows = await session.execute(
        sa.text(
            "SELECT account_id, signals::text, health::text, alert_state::text, recent_scores::text, last_event_at "
            f"FROM {qualified(tables.accounts)} WHERE account_id = ANY(CAST(:ids AS text[]))"
        ),
        {"ids": list(account_ids)},
    )
    accounts = {}
    for account_id, signals, health, alert_state, recent, last_event_at in rows:
        accounts[account_id] = StoredAccount(
            account_id=account_id,
            signals=signals_from_json(orjson.loads(signals)),
            score=None if health is None else health_score_from_json(orjson.loads(health)),
            alert_state=alert_state_from_json(orjson.loads(alert_state)),
            recent_scores=recent_scores_from_json(orjson.loads(recent)),
            last_event_at=last_event_at,
        )
    return accounts


async def load_scorecards(session: AsyncSession, tables: HealthTables) -> dict[str, Scorecard]:
    """The current (highest) version of each segment's scorecard."""
    rows = await session.execute(
        sa.text(
            f"SELECT DISTINCT ON (segment) segment, config::text FROM {qualified(tables.scorecards)} "
            "ORDER BY segment, version DESC"
        )
    )
    return {segment: validate_scorecard(orjson.loads(config)) for segment, config in rows}


async def load_norms(session: AsyncSession, tables: HealthTables) -> NormsHistory:
    """Every kept version of the cohort norms, oldest first (points are scored with the one in force)."""
    return NormsHistory(await load_versions(session, tables.cohort_norms, norms_from_json))


async def refresh_norms(
    session: AsyncSession, tables: HealthTables, *, effective_from: datetime, active_since: datetime, keep: timedelta
) -> CohortNorms:
    """A new version of the cohort norms from every account scored since `active_since`, in force from
    `effective_from`; versions no longer in force for `keep` are dropped (the latest always stays)."""
    a = tables.accounts
    rows = await session.execute(
        sa.select(a.c.segment, a.c.norm_sample).where(a.c.norm_sample.is_not(None), a.c.as_of >= active_since)
    )
    samples = [(segment, sample) for segment, sample in rows if sample]
    version = await latest_version(session, tables.cohort_norms) + 1
    norms = build_norms(samples, version=version, effective_from=effective_from)
    await save_version(session, tables.cohort_norms, version=version, effective_from=effective_from,
                       accounts=len(samples), norms=norms_to_json(norms), keep=keep)
    return norms


# --- which accounts to rescore -------------------------------------------------------------------


async def due_accounts(
    session: AsyncSession, tables: HealthTables, *, cutoff: datetime, after: str, limit: int,
    partition: int | None = None,
) -> list[str]:
    """The next `limit` accounts after `after` (keyset) whose score is older than `cutoff`, or was
    made with a scorecard that is no longer current (a scorecard change interrupted part-way); those of
    one partition group when `partition` is given (else those whose group is not known yet)."""
    accounts, cards = qualified(tables.accounts), qualified(tables.scorecards)
    group = "a.partition IS NULL" if partition is None else "a.partition = :partition"
    rows = await session.execute(
        sa.text(
            f"SELECT a.account_id FROM {accounts} AS a WHERE a.account_id > :after AND {group} AND ("
            " a.as_of IS NULL OR a.as_of < :cutoff"
            f" OR a.scorecard_version < (SELECT max(version) FROM {cards} s WHERE s.segment = a.scorecard_segment)"
            " OR (a.segment IS DISTINCT FROM a.scorecard_segment"
            f"     AND EXISTS (SELECT 1 FROM {cards} s WHERE s.segment = a.segment))"
            ") ORDER BY a.account_id LIMIT :limit"
        ),
        {"after": after, "cutoff": cutoff, "limit": limit, "partition": partition},
    )
    return [row[0] for row in rows]


async def accounts_of_scorecard(
    session: AsyncSession, tables: HealthTables, segment: str, *, after: str, limit: int
) -> list[str]:
    """Accounts a change of `segment`'s scorecard may affect: those scored with it now, and those of
    that segment (a new segment's scorecard takes them over from `default`)."""
    rows = await session.execute(
        sa.text(
            f"SELECT account_id FROM {qualified(tables.accounts)} WHERE account_id > :after "
            "AND (segment = :segment OR scorecard_segment = :segment) ORDER BY account_id LIMIT :limit"
        ),
        {"after": after, "segment": segment, "limit": limit},
    )
    return [row[0] for row in rows]


def replay_tables(schema: str) -> list[sa.Table]:
    """What ``python -m shared.replay health`` empties before re-reading the archive: the state
    derived from events. Scorecards and overrides are people's input and stay; alerts stay too,
    because their ids are deterministic and their upsert keeps acknowledgements, so the replay
    re-derives the same rows instead of raising them again. The cohort norms stay: they are
    configuration, effective-dated, so the replay scores each point with the version a live run had.
    The watermarks go: the replay's stream starts again at the beginning."""
    tables = health_tables(schema)
    return [tables.accounts, tables.score_history, tables.stream_watermarks]
