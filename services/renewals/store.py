"""The renewals schema's tables and the handler's set-based reads and writes. Nothing here commits.

Replay (``python -m shared.replay renewals``) empties ``accounts``, ``arr_spans``, ``schedule`` and
``stream_watermarks``, which are derived from events. ``renewals`` is kept: it carries people's work
(stage, owner, notes) and the re-deriving it upserts the event-derived columns only (ON CONFLICT DO
UPDATE leaves owner and notes alone, and stage too unless a renewal or cancellation settles it). The
alert state lives in the account's state (a replay re-derives the same alerts with the same ids,
which consumers de-duplicate); the renewals' alert_severity column mirrors it for the API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.renewals.domain import AccountBook, AlertState, ArrSpan, Renewal, book_from_json, book_to_json
from shared import account_state
from shared.db import columns, json_text, qualified
from shared.tables import declare
from shared.watermarks import stream_watermarks_table


@dataclass(frozen=True)
class RenewalsTables(account_state.FoldTables):
    renewals: sa.Table
    arr_spans: sa.Table
    schedule: sa.Table
    stream_watermarks: sa.Table


def renewals_tables(schema: str) -> RenewalsTables:
    """The tables of one renewals schema (``ORCHARD_RENEWALS_SCHEMA``); the migration creates them."""
    md, fold = account_state.fold_schema(schema)
    renewals = declare(md, "renewals", """
        renewal_id text primary key, account_id text, contract_id text, term_start date, renewal_date date,
        arr numeric, currency text, seats int, products jsonb, auto_renew boolean, segment text null,
        stage text, owner text null, notes text null, risk text, risk_reasons jsonb,
        health_score float8 null, health_grade text null, alert_severity text null, alert_episode int,
        created_at timestamptz, updated_at timestamptz
    """)
    arr_spans = declare(md, "arr_spans", """
        account_id text, contract_id text, currency text, arr numeric, valid_from date, valid_to date
    """)
    # When each account is next due for the scheduled pass, per partition group (an account's records
    # all sit on one partition number, whatever the topic).
    schedule = declare(md, "schedule", """
        account_id text primary key, partition int null, next_due date null, judged_at timestamptz null
    """)
    stream_watermarks = stream_watermarks_table(md)
    return RenewalsTables(fold.schema, fold.plumbing, fold.accounts, renewals, arr_spans, schedule, stream_watermarks)


def replay_tables(schema: str) -> Sequence[sa.Table]:
    """What a replay empties (see the module docstring): what is folded from events."""
    tables = renewals_tables(schema)
    return [tables.accounts, tables.arr_spans, tables.schedule, tables.stream_watermarks]


account_books = account_state.AccountStates[AccountBook](book_from_json, book_to_json)
"""Each account's book, locked and loaded, then saved, by the handler and the scheduled pass."""


_UPSERT_RENEWALS = """
INSERT INTO {table} AS r (renewal_id, account_id, contract_id, term_start, renewal_date, arr, currency, seats,
                          products, auto_renew, segment, stage, risk, risk_reasons, health_score, health_grade,
                          alert_episode, created_at, updated_at)
SELECT id, a, c, ts, rd, arr, cur, seats, p::jsonb, ar, seg, COALESCE(outcome, 'open'), risk, rr::jsonb, hs, hg,
       0, now(), now()
FROM unnest(CAST(:id AS text[]), CAST(:account_id AS text[]), CAST(:contract_id AS text[]),
            CAST(:term_start AS date[]), CAST(:renewal_date AS date[]), CAST(:arr AS numeric[]),
            CAST(:currency AS text[]), CAST(:seats AS int[]), CAST(:products AS text[]), CAST(:auto_renew AS bool[]),
            CAST(:segment AS text[]), CAST(:outcome AS text[]), CAST(:risk AS text[]), CAST(:reasons AS text[]),
            CAST(:health_score AS float8[]), CAST(:health_grade AS text[]))
     AS u(id, a, c, ts, rd, arr, cur, seats, p, ar, seg, outcome, risk, rr, hs, hg)
ORDER BY id
ON CONFLICT (renewal_id) DO UPDATE SET
    term_start = excluded.term_start, renewal_date = excluded.renewal_date, arr = excluded.arr,
    currency = excluded.currency, seats = excluded.seats, products = excluded.products,
    auto_renew = excluded.auto_renew, segment = excluded.segment,
    stage = CASE WHEN excluded.stage IN ('renewed', 'churned') THEN excluded.stage ELSE r.stage END,
    risk = excluded.risk, risk_reasons = excluded.risk_reasons, health_score = excluded.health_score,
    health_grade = excluded.health_grade, updated_at = now()
"""


async def upsert_renewals(
    session: AsyncSession, tables: RenewalsTables, renewals: Sequence[tuple[Renewal, float | None, str | None]]
) -> None:
    """Insert or refresh the renewals (with the health they were judged on) in one statement."""
    if not renewals:
        return
    params = columns(
        {"id": r.renewal_id, "account_id": r.account_id, "contract_id": r.contract_id,
         "term_start": r.term.start_date, "renewal_date": r.renewal_date, "arr": r.term.arr,
         "currency": r.term.currency, "seats": r.term.seats, "products": json_text(list(r.term.products)),
         "auto_renew": r.term.auto_renew, "segment": r.term.segment, "outcome": r.outcome, "risk": r.risk.band,
         "reasons": json_text([x.to_json() for x in r.risk.reasons]), "health_score": score, "health_grade": grade}
        for r, score, grade in renewals)
    await session.execute(sa.text(_UPSERT_RENEWALS.format(table=qualified(tables.renewals))), params)


async def save_alert_states(session: AsyncSession, tables: RenewalsTables, states: Mapping[str, AlertState]) -> None:
    if not states:
        return
    ids = sorted(states)
    await session.execute(
        sa.text(
            f"UPDATE {qualified(tables.renewals)} AS t SET alert_severity = u.s, alert_episode = u.e "
            "FROM unnest(CAST(:ids AS text[]), CAST(:severities AS text[]), CAST(:episodes AS int[])) AS u(r, s, e) "
            "WHERE t.renewal_id = u.r"
        ),
        {"ids": ids, "severities": [states[r].severity for r in ids], "episodes": [states[r].episode for r in ids]},
    )


async def replace_arr_spans(
    session: AsyncSession, tables: RenewalsTables, spans: Mapping[str, Sequence[ArrSpan]]
) -> None:
    """The accounts' ARR spans, replaced wholesale: one delete, one insert."""
    if not spans:
        return
    s = tables.arr_spans
    await session.execute(sa.delete(s).where(s.c.account_id.in_(sorted(spans))))
    rows = [(account_id, span) for account_id, account_spans in spans.items() for span in account_spans]
    if not rows:
        return
    await session.execute(
        sa.text(
            f"INSERT INTO {qualified(tables.arr_spans)} (account_id, contract_id, currency, arr, valid_from, valid_to) "
            "SELECT * FROM unnest(CAST(:a AS text[]), CAST(:c AS text[]), CAST(:cur AS text[]), "
            "CAST(:arr AS numeric[]), CAST(:f AS date[]), CAST(:t AS date[]))"
        ),
        {"a": [a for a, _ in rows], "c": [x.contract_id for _, x in rows], "cur": [x.currency for _, x in rows],
         "arr": [x.arr for _, x in rows], "f": [x.valid_from for _, x in rows], "t": [x.valid_to for _, x in rows]},
    )


@dataclass(frozen=True)
class Due:
    """An account's place in the scheduled pass."""

    partition: int | None
    next_due: date | None
    judged_at: datetime | None


async def save_schedule(session: AsyncSession, tables: RenewalsTables, due: Mapping[str, Due]) -> None:
    """Each account's next due day, in one statement; a partition once known is kept."""
    if not due:
        return
    ids = sorted(due)
    await session.execute(
        sa.text(
            f"INSERT INTO {qualified(tables.schedule)} AS s (account_id, partition, next_due, judged_at) "
            "SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:partitions AS int[]), CAST(:due AS date[]), "
            "CAST(:judged AS timestamptz[])) "
            "ON CONFLICT (account_id) DO UPDATE SET partition = COALESCE(excluded.partition, s.partition), "
            "next_due = excluded.next_due, judged_at = excluded.judged_at"
        ),
        {"ids": ids, "partitions": [due[a].partition for a in ids], "due": [due[a].next_due for a in ids],
         "judged": [due[a].judged_at for a in ids]},
    )


async def due_accounts(
    session: AsyncSession, tables: RenewalsTables, *, partition: int | None, through: date, after: str, limit: int
) -> list[str]:
    """The next `limit` accounts after `after` (keyset) of one partition group (None: those whose group
    is not known) that are due on or before `through`."""
    s = tables.schedule
    group = s.c.partition.is_(None) if partition is None else s.c.partition == partition
    rows = await session.execute(
        sa.select(s.c.account_id).where(group, s.c.next_due <= through, s.c.account_id > after)
        .order_by(s.c.account_id).limit(limit)
    )
    return [row[0] for row in rows]
