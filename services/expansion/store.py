"""The expansion schema's tables and the handler's set-based reads and writes. Nothing here commits.

Replay (``python -m shared.replay expansion``) empties ``accounts`` and ``stream_watermarks``: the
folded signals and how far the stream has got are derived from events. The cohort norm versions stay:
they are configuration in force from their start, so the replay judges each event with the version a
live run had then (as health's do). Opportunities are kept too: they carry people's work (stage, owner, notes).
Re-deriving them is harmless: their ids are deterministic episodes, an open or cooling-down one is
not raised again, and inserts are ON CONFLICT DO NOTHING, so a replay emits no second trigger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.expansion.domain import (
    Closed,
    ExpansionSignals,
    LatestEpisode,
    NewOpportunity,
    signals_from_json,
    signals_to_json,
)
from shared import account_state
from shared.db import columns, json_text, qualified
from shared.norm_store import cohort_norms_table
from shared.tables import declare
from shared.watermarks import stream_watermarks_table


@dataclass(frozen=True)
class ExpansionTables(account_state.FoldTables):
    opportunities: sa.Table
    cohort_norms: sa.Table
    stream_watermarks: sa.Table


def expansion_tables(schema: str) -> ExpansionTables:
    """The tables of one expansion schema (``ORCHARD_EXPANSION_SCHEMA``); the migration creates them."""
    md, fold = account_state.fold_schema(schema)
    opportunities = declare(md, "opportunities", """
        opportunity_id text primary key, account_id text, kind text, product text, episode int, stage text,
        owner text null, notes text null, estimated_arr_uplift numeric, confidence float8, reason text,
        evidence jsonb, as_of timestamptz, created_at timestamptz, updated_at timestamptz,
        closed_at timestamptz null, currency text default 'USD', progressed_at timestamptz,
        closed_by text null, close_reason text null
    """)
    return ExpansionTables(fold.schema, fold.plumbing, fold.accounts, opportunities, cohort_norms_table(md),
                           stream_watermarks_table(md))


def replay_tables(schema: str) -> Sequence[sa.Table]:
    """What a replay empties (see the module docstring): what is folded from events."""
    tables = expansion_tables(schema)
    return [tables.accounts, tables.stream_watermarks]


account_signals = account_state.AccountStates[ExpansionSignals](signals_from_json, signals_to_json)
"""Each account's folded signals, locked and loaded, then saved, by the handler."""


async def latest_episodes(
    session: AsyncSession, tables: ExpansionTables, account_ids: Sequence[str]
) -> dict[str, dict[tuple[str, str], LatestEpisode]]:
    """Per account, the latest episode of each (kind, product) it ever had: one query."""
    rows = await session.execute(
        sa.text(
            "SELECT DISTINCT ON (account_id, kind, product) account_id, kind, product, episode, stage, "
            f"estimated_arr_uplift, closed_at, progressed_at FROM {qualified(tables.opportunities)} "
            "WHERE account_id = ANY(CAST(:ids AS text[])) ORDER BY account_id, kind, product, episode DESC"
        ),
        {"ids": list(account_ids)},
    )
    latest: dict[str, dict[tuple[str, str], LatestEpisode]] = {}
    for account_id, kind, product, episode, stage, uplift, closed_at, progressed_at in rows:
        latest.setdefault(account_id, {})[kind, product] = LatestEpisode(kind, product, episode, stage, uplift,
                                                                          closed_at, progressed_at)
    return latest


_INSERT_OPPORTUNITIES = """
INSERT INTO {table} (opportunity_id, account_id, kind, product, episode, stage, estimated_arr_uplift, confidence,
                     reason, evidence, as_of, created_at, updated_at, currency, progressed_at)
SELECT id, a, k, p, ep, 'open', up, c, r, ev::jsonb, ao, now(), now(), cur, ao
FROM unnest(CAST(:id AS text[]), CAST(:account_id AS text[]), CAST(:kind AS text[]), CAST(:product AS text[]),
            CAST(:episode AS int[]), CAST(:uplift AS numeric[]), CAST(:confidence AS float8[]),
            CAST(:reason AS text[]), CAST(:evidence AS text[]), CAST(:as_of AS timestamptz[]),
            CAST(:currency AS text[]))
     WITH ORDINALITY AS u(id, a, k, p, ep, up, c, r, ev, ao, cur, n)
ORDER BY n
ON CONFLICT DO NOTHING
RETURNING opportunity_id
"""


async def insert_opportunities(
    session: AsyncSession, tables: ExpansionTables, opportunities: Sequence[NewOpportunity]
) -> set[str]:
    """Insert the new opportunities in one statement; returns the ids that were really new."""
    if not opportunities:
        return set()
    params = columns(
        {"id": o.opportunity_id, "account_id": o.account_id, "kind": o.trigger.kind, "product": o.trigger.product,
         "episode": o.episode, "uplift": o.trigger.estimated_arr_uplift, "confidence": o.trigger.confidence,
         "reason": o.trigger.reason, "evidence": json_text(list(o.trigger.evidence_event_ids)), "as_of": o.as_of,
         "currency": o.currency}
        for o in opportunities)
    rows = await session.execute(sa.text(_INSERT_OPPORTUNITIES.format(table=qualified(tables.opportunities))), params)
    return {row[0] for row in rows}


# Only rows still open move: a person's won, lost or dismissed stands, and a replay that closes the
# same episode again changes nothing. Closing by expiry or by contract is not progress a person made,
# so `progressed_at` stays.
_CLOSE_OPPORTUNITIES = """
UPDATE {table} AS o SET stage = u.st, closed_at = u.ca, closed_by = u.cb, close_reason = u.r, updated_at = now()
FROM unnest(CAST(:id AS text[]), CAST(:stage AS text[]), CAST(:closed_at AS timestamptz[]),
            CAST(:closed_by AS text[]), CAST(:reason AS text[])) AS u(id, st, ca, cb, r)
WHERE o.opportunity_id = u.id AND o.stage IN ('open', 'qualified', 'proposed')
RETURNING o.opportunity_id
"""


async def close_opportunities(session: AsyncSession, tables: ExpansionTables, closed: Sequence[Closed]) -> set[str]:
    """Close the opportunities the fold closed, those still open only; returns the ids moved."""
    if not closed:
        return set()
    last = {c.opportunity_id: c for c in closed}  # an id closes once per fold; the last word stands
    params = {"id": list(last), "stage": [c.stage for c in last.values()],
              "closed_at": [c.closed_at for c in last.values()], "closed_by": [c.closed_by for c in last.values()],
              "reason": [c.reason for c in last.values()]}
    rows = await session.execute(sa.text(_CLOSE_OPPORTUNITIES.format(table=qualified(tables.opportunities))), params)
    return {row[0] for row in rows}
