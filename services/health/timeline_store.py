"""An account's timeline: its tables, the batch's write, and the one read the API pages through.

Written by the batch handler in the batch's own transaction, so an entry exists exactly when the
event was applied. Idempotent on its own, not only through ``processed_events`` (which a replay
empties, and which forgets ids after its window): an event entry's primary key is its event id, and
a usage event adds to its day's roll-up only when its id is new to ``timeline_usage_events``, which
is also how a reason's evidence id finds the roll-up that covers it. Two statements per batch,
whatever its size. Score changes and alerts are read from their own tables (``score_history``,
``alerts``) and merged in at read time, newest first.

Retention: entries, roll-ups and the usage index are pruned by event time
(``ORCHARD_HEALTH_TIMELINE_RETENTION_DAYS``, ``timeline_retention_rules``); score history and alerts
keep their own lifetime.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.health.domain.entries import USAGE_ROLLUP_TYPE, TimelineInput, TimelineKind, split_entries
from shared.db import Record, json_text, qualified
from shared.keyset import beyond
from shared.retention import RetentionRule
from shared.tables import declare


@dataclass(frozen=True)
class TimelineTables:
    events: sa.Table
    """One row per input event other than usage."""
    usage: sa.Table
    """One roll-up per account, UTC day and feature."""
    usage_events: sa.Table
    """Which roll-up each usage event went into: the roll-ups' idempotency, and the evidence lookup."""


def timeline_tables(md: sa.MetaData) -> TimelineTables:
    events = declare(md, "timeline_events", """
        event_id text primary key, account_id text, at timestamptz, kind text, type text, source text null,
        data jsonb
    """)
    usage = declare(md, "timeline_usage", """
        account_id text primary key, day date primary key, feature text primary key, at timestamptz,
        quantity float8, events int, first_at timestamptz, last_at timestamptz
    """)
    usage_events = declare(md, "timeline_usage_events", """
        event_id text primary key, account_id text, day date, feature text
    """)
    return TimelineTables(events, usage, usage_events)


def timeline_retention_rules(tables: TimelineTables, retention: timedelta) -> list[RetentionRule]:
    """What the retention pruner forgets: entries and roll-ups older than `retention` in event time,
    and the usage index with its roll-ups (a roll-up gone, its ids have nothing left to find)."""
    return [RetentionRule(tables.events, "at", retention), RetentionRule(tables.usage, "at", retention),
            RetentionRule(tables.usage_events, "day", retention)]


_INSERT_EVENTS = """
INSERT INTO {events} (event_id, account_id, at, kind, type, source, data)
SELECT ev, a, at, k, t, src, d::jsonb
FROM unnest(CAST(:event_id AS text[]), CAST(:account_id AS text[]), CAST(:at AS timestamptz[]),
            CAST(:kind AS text[]), CAST(:type AS text[]), CAST(:source AS text[]), CAST(:data AS text[]))
     AS u(ev, a, at, k, t, src, d)
ON CONFLICT (event_id) DO NOTHING
"""

# Only the usage events new to the index count into their roll-up: a redelivered or replayed event
# finds its id there and adds nothing. The index insert and the roll-up upsert are one statement.
_ROLL_UP_USAGE = """
WITH touch AS (
    SELECT * FROM unnest(CAST(:event_id AS text[]), CAST(:account_id AS text[]), CAST(:day AS date[]),
                         CAST(:feature AS text[]), CAST(:quantity AS float8[]), CAST(:at AS timestamptz[]))
         AS u(ev, a, d, f, q, at)
), fresh AS (
    INSERT INTO {usage_events} (event_id, account_id, day, feature)
    SELECT ev, a, d, f FROM touch ON CONFLICT (event_id) DO NOTHING RETURNING event_id
)
INSERT INTO {usage} AS r (account_id, day, feature, at, quantity, events, first_at, last_at)
SELECT t.a, t.d, t.f, CAST(t.d AS timestamp) AT TIME ZONE 'UTC', sum(t.q), count(*), min(t.at), max(t.at)
FROM touch AS t JOIN fresh ON fresh.event_id = t.ev
GROUP BY t.a, t.d, t.f
ORDER BY t.a, t.d, t.f
ON CONFLICT (account_id, day, feature) DO UPDATE SET
    quantity = r.quantity + excluded.quantity, events = r.events + excluded.events,
    first_at = least(r.first_at, excluded.first_at), last_at = greatest(r.last_at, excluded.last_at)
"""


async def record_timeline(session: AsyncSession, tables: TimelineTables, events: Iterable[TimelineInput]) -> None:
    """The batch's applied events into the timeline: one insert of entries, one roll-up statement."""
    entries, touches = split_entries(events)
    if entries:
        await session.execute(sa.text(_INSERT_EVENTS.format(events=qualified(tables.events))), {
            "event_id": [e.event_id for e in entries], "account_id": [e.account_id for e in entries],
            "at": [e.at for e in entries], "kind": [e.kind for e in entries],
            "type": [e.event_type for e in entries], "source": [e.source for e in entries],
            "data": [json_text(dict(e.data)) for e in entries],
        })
    if touches:
        roll_up = _ROLL_UP_USAGE.format(usage_events=qualified(tables.usage_events), usage=qualified(tables.usage))
        await session.execute(
            sa.text(roll_up), {
                "event_id": [t.event_id for t in touches], "account_id": [t.account_id for t in touches],
                "day": [t.day for t in touches], "feature": [t.feature for t in touches],
                "quantity": [t.quantity for t in touches], "at": [t.at for t in touches],
            })


# --- read ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineQuery:
    account_id: str
    kinds: Collection[TimelineKind]
    since: datetime | None = None
    """Inclusive."""
    until: datetime | None = None
    """Exclusive."""
    event_ids: Sequence[str] = ()
    """When given: only the entries that cover these input events (a reason's evidence)."""


_EVENT_KINDS = frozenset({"interaction", "ticket", "survey", "contact", "contract", "account"})


def _branch(query: sa.Select[Any], at: sa.ColumnElement[datetime], key: sa.ColumnElement[str], q: TimelineQuery,
            after: tuple[datetime, str] | None) -> sa.Select[Any]:
    if q.since is not None:
        query = query.where(at >= q.since)
    if q.until is not None:
        query = query.where(at < q.until)
    if after is not None:
        query = query.where(beyond(at, key, after, descending=True))
    return query


def _json(*pairs: Any) -> sa.ColumnElement[Any]:
    return sa.cast(sa.func.jsonb_build_object(*pairs), JSONB)


async def timeline_page(
    session: AsyncSession, tables: TimelineTables, *, score_history: sa.Table, alerts: sa.Table, q: TimelineQuery,
    after: tuple[datetime, str] | None, limit: int,
) -> list[Record]:
    """Entries newest first (ties by key, descending): (at, key, kind, type, event_id, body). The key
    is unique across the merged sources, so (at, key) is the keyset position."""
    kinds = set(q.kinds)
    no_id = sa.cast(sa.null(), sa.Text)
    branches: list[sa.Select[Any]] = []
    ev = tables.events
    if kinds & _EVENT_KINDS:
        key = sa.literal("e:") + ev.c.event_id
        query = sa.select(ev.c.at.label("at"), key.label("key"), ev.c.kind, ev.c.type, ev.c.event_id,
                          ev.c.data.label("body"))
        query = query.where(ev.c.account_id == q.account_id, ev.c.kind.in_(sorted(kinds & _EVENT_KINDS)))
        if q.event_ids:
            query = query.where(ev.c.event_id.in_(list(q.event_ids)))
        branches.append(_branch(query, ev.c.at, key, q, after))
    if "usage" in kinds:
        u, ue = tables.usage, tables.usage_events
        key = sa.literal("u:") + sa.cast(u.c.day, sa.Text) + sa.literal(":") + u.c.feature
        body = _json("day", u.c.day, "feature", u.c.feature, "quantity", u.c.quantity, "events", u.c.events,
                     "first_at", u.c.first_at, "last_at", u.c.last_at)
        query = sa.select(u.c.at.label("at"), key.label("key"), sa.literal("usage").label("kind"),
                          sa.literal(USAGE_ROLLUP_TYPE).label("type"), no_id.label("event_id"), body.label("body")
                          ).where(u.c.account_id == q.account_id)
        if q.event_ids:
            covered = sa.select(ue.c.day, ue.c.feature).where(ue.c.account_id == q.account_id,
                                                              ue.c.event_id.in_(list(q.event_ids)))
            query = query.where(sa.tuple_(u.c.day, u.c.feature).in_(covered))
        branches.append(_branch(query, u.c.at, key, q, after))
    if "score" in kinds and not q.event_ids:
        h = score_history
        key = sa.literal("s:") + sa.func.lpad(sa.cast(h.c.id, sa.Text), 19, "0")
        body = _json("score", h.c.score, "grade", h.c.grade, "previous_score", h.c.previous_score,
                     "previous_grade", h.c.previous_grade, "cause", h.c.cause, "reasons", h.c.reasons,
                     "component_deltas", h.c.component_deltas)
        query = sa.select(h.c.as_of.label("at"), key.label("key"), sa.literal("score").label("kind"),
                          sa.literal("health.changed").label("type"), no_id.label("event_id"), body.label("body")
                          ).where(h.c.account_id == q.account_id)
        branches.append(_branch(query, h.c.as_of, key, q, after))
    if "alert" in kinds and not q.event_ids:
        a = alerts
        key = sa.literal("a:") + a.c.alert_id
        body = _json("alert_id", a.c.alert_id, "kind", a.c.kind, "severity", a.c.severity, "status", a.c.status,
                     "resolved_at", a.c.resolved_at, "origin", a.c.origin,
                     "reasons", a.c.payload["reasons"])
        query = sa.select(a.c.raised_at.label("at"), key.label("key"), sa.literal("alert").label("kind"),
                          sa.literal("churn_risk").label("type"), no_id.label("event_id"), body.label("body")
                          ).where(a.c.account_id == q.account_id)
        branches.append(_branch(query, a.c.raised_at, key, q, after))
    if not branches:
        return []
    # Each source gives at most a page (its own index order), the merge keeps the newest page of them.
    merged = sa.union_all(*[b.order_by(sa.desc("at"), sa.desc("key")).limit(limit) for b in branches]).subquery()
    ordered = sa.select(merged).order_by(merged.c.at.desc(), merged.c.key.desc()).limit(limit)
    return list((await session.execute(ordered)).all())
