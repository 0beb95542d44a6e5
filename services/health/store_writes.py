"""What a batch's or a pass's evaluations write: one upsert of the accounts with new points, one update
of those whose events made none, one insert of history, one upsert of alerts. Set-based statements
(`unnest` of arrays: one round trip per table per batch, whatever its size); nothing here commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.health.domain import (
    Advance,
    AlertDecision,
    Evaluation,
    StoredAccount,
    alert_state_to_json,
    health_score_to_json,
    norm_sample,
    recent_scores_to_json,
    signals_to_json,
)
from services.health.store import HealthTables
from shared.days import day_number
from shared.db import columns, json_text, qualified
from shared.events import ChurnRiskAlert

_UPSERT_ACCOUNTS = """
INSERT INTO {table} (account_id, segment, signals, health, score, grade, scorecard_segment, scorecard_version,
                     as_of, arr, currency, renewal_date, last_event_at, alert_state, recent_scores, norm_sample,
                     partition, scored_at)
SELECT a, seg, sig::jsonb, h::jsonb, sc, g, ss, sv, ao, arr, cur, rd, le, st::jsonb, rs::jsonb, ns::jsonb, pt, now()
FROM unnest(CAST(:account_id AS text[]), CAST(:segment AS text[]), CAST(:signals AS text[]),
            CAST(:health AS text[]), CAST(:score AS float8[]), CAST(:grade AS text[]),
            CAST(:scorecard_segment AS text[]), CAST(:scorecard_version AS int[]), CAST(:as_of AS timestamptz[]),
            CAST(:arr AS numeric[]), CAST(:currency AS text[]), CAST(:renewal_date AS date[]),
            CAST(:last_event_at AS timestamptz[]), CAST(:alert_state AS text[]), CAST(:recent_scores AS text[]),
            CAST(:norm_sample AS text[]), CAST(:partition AS int[]))
     AS u(a, seg, sig, h, sc, g, ss, sv, ao, arr, cur, rd, le, st, rs, ns, pt)
ON CONFLICT (account_id) DO UPDATE SET
    segment = excluded.segment, signals = excluded.signals, health = excluded.health, score = excluded.score,
    grade = excluded.grade, scorecard_segment = excluded.scorecard_segment,
    scorecard_version = excluded.scorecard_version, as_of = excluded.as_of, arr = excluded.arr,
    currency = excluded.currency, renewal_date = excluded.renewal_date, last_event_at = excluded.last_event_at,
    alert_state = excluded.alert_state, recent_scores = excluded.recent_scores, norm_sample = excluded.norm_sample,
    partition = coalesce(excluded.partition, {table}.partition), scored_at = excluded.scored_at
"""

_INSERT_HISTORY = """
INSERT INTO {table} (account_id, as_of, score, grade, previous_score, previous_grade, components,
                     component_deltas, reasons, scorecard_segment, scorecard_version, cause, recorded_at)
SELECT a, ao, sc, g, ps, pg, c::jsonb, cd::jsonb, r::jsonb, ss, sv, cause, now()
FROM unnest(CAST(:account_id AS text[]), CAST(:as_of AS timestamptz[]), CAST(:score AS float8[]),
            CAST(:grade AS text[]), CAST(:previous_score AS float8[]), CAST(:previous_grade AS text[]),
            CAST(:components AS text[]), CAST(:component_deltas AS text[]), CAST(:reasons AS text[]),
            CAST(:scorecard_segment AS text[]), CAST(:scorecard_version AS int[]), CAST(:cause AS text[]))
     WITH ORDINALITY AS u(a, ao, sc, g, ps, pg, c, cd, r, ss, sv, cause, n)
ORDER BY n
"""

# The alert id is deterministic (account, kind, episode number), so this upsert is what keeps a re-run
# from ever doubling an alert; an escalation or a resolve updates the one row of its episode. One row
# per alert per statement: several decisions of one alert in a batch are folded into one row first.
_UPSERT_ALERTS = """
INSERT INTO {table} (alert_id, account_id, kind, severity, status, episode_start, raised_at, updated_at,
                     resolved_at, last_event_id, payload)
SELECT id, a, k, sev, st, ep, ra, at, CASE WHEN st = 'resolved' THEN at END, ev, p::jsonb
FROM unnest(CAST(:alert_id AS text[]), CAST(:account_id AS text[]), CAST(:kind AS text[]),
            CAST(:severity AS text[]), CAST(:status AS text[]), CAST(:episode_start AS timestamptz[]),
            CAST(:raised_at AS timestamptz[]), CAST(:occurred_at AS timestamptz[]), CAST(:event_id AS text[]),
            CAST(:payload AS text[]))
     AS u(id, a, k, sev, st, ep, ra, at, ev, p)
ON CONFLICT (alert_id) DO UPDATE SET
    severity = excluded.severity, status = excluded.status, updated_at = excluded.updated_at,
    resolved_at = excluded.resolved_at, last_event_id = excluded.last_event_id, payload = excluded.payload,
    origin = 'health'
"""


_UPDATE_SCORES = """
UPDATE {table} AS t SET segment = seg, health = h::jsonb, score = sc, grade = g, scorecard_segment = ss,
    scorecard_version = sv, as_of = ao, arr = u.arr, currency = cur, renewal_date = rd, last_event_at = le,
    alert_state = st::jsonb, recent_scores = rs::jsonb, norm_sample = ns::jsonb, scored_at = now()
FROM unnest(CAST(:account_id AS text[]), CAST(:segment AS text[]), CAST(:health AS text[]),
            CAST(:score AS float8[]), CAST(:grade AS text[]), CAST(:scorecard_segment AS text[]),
            CAST(:scorecard_version AS int[]), CAST(:as_of AS timestamptz[]), CAST(:arr AS numeric[]),
            CAST(:currency AS text[]), CAST(:renewal_date AS date[]), CAST(:last_event_at AS timestamptz[]),
            CAST(:alert_state AS text[]), CAST(:recent_scores AS text[]), CAST(:norm_sample AS text[]))
     AS u(a, seg, h, sc, g, ss, sv, ao, arr, cur, rd, le, st, rs, ns)
WHERE t.account_id = u.a
"""


_UPDATE_SIGNALS = """
UPDATE {table} AS t SET signals = sig::jsonb, last_event_at = le, norm_sample = ns::jsonb, scored_at = now()
FROM unnest(CAST(:account_id AS text[]), CAST(:signals AS text[]), CAST(:last_event_at AS timestamptz[]),
            CAST(:norm_sample AS text[])) AS u(a, sig, le, ns)
WHERE t.account_id = u.a
"""


async def save_advances(
    session: AsyncSession, tables: HealthTables, advances: Sequence[Advance],
    partitions: Mapping[str, int] | None = None, *, alerts: Mapping[str, ChurnRiskAlert],
) -> None:
    """Write what the accounts' points produced: one upsert of the accounts that have new points (their
    state after the last one; an update that leaves the signals alone when no event moved them: they are
    the largest column), one update of those whose events made no point, one insert of history (every
    point that changed the score, in order), one upsert of alerts (`alerts`: the churn-risk events by
    event id, each stored as its alert's payload just as it is published)."""
    scored = [a for a in advances if a.evaluations]
    with_events = [a for a in scored if a.signals_changed]
    without = [a for a in scored if not a.signals_changed]
    folded_only = [a for a in advances if not a.evaluations and a.signals_changed]
    if with_events:
        await session.execute(sa.text(_UPSERT_ACCOUNTS.format(table=qualified(tables.accounts))),
                              columns({**_account_row(a), "partition": (partitions or {}).get(a.account.account_id)}
                                       for a in with_events))
    if without:
        await session.execute(sa.text(_UPDATE_SCORES.format(table=qualified(tables.accounts))),
                              columns(_account_row(a, with_signals=False) for a in without))
    if folded_only:
        await session.execute(sa.text(_UPDATE_SIGNALS.format(table=qualified(tables.accounts))),
                              columns(_signals_row(a.account) for a in folded_only))
    changed = [e for a in scored for e in a.evaluations if e.changed]
    if changed:
        await session.execute(sa.text(_INSERT_HISTORY.format(table=qualified(tables.score_history))),
                              columns(_history_row(e) for e in changed))
    alert_rows = _alert_rows(scored, alerts)
    if alert_rows:
        await session.execute(sa.text(_UPSERT_ALERTS.format(table=qualified(tables.alerts))), columns(alert_rows))


def _account_row(a: Advance, *, with_signals: bool = True) -> dict[str, Any]:
    """The account after its last point (events folded after it without a point of their own included)."""
    account, last = a.account, a.evaluations[-1]
    s, c = last.score, last.contract
    signals = {"signals": json_text(signals_to_json(account.signals))} if with_signals else {}
    return {
        "account_id": account.account_id, "segment": c.segment, **signals,
        "health": json_text(health_score_to_json(s)), "score": s.total, "grade": s.grade,
        "scorecard_segment": s.segment, "scorecard_version": s.scorecard_version, "as_of": s.as_of,
        "arr": c.arr, "currency": c.currency, "renewal_date": c.renewal_date, "last_event_at": account.last_event_at,
        "alert_state": json_text(alert_state_to_json(account.alert_state)),
        "recent_scores": json_text(recent_scores_to_json(account.recent_scores)),
        "norm_sample": json_text(norm_sample(account.signals, day_number(s.as_of))),
    }


def _signals_row(account: StoredAccount) -> dict[str, Any]:
    assert account.score is not None
    return {"account_id": account.account_id, "signals": json_text(signals_to_json(account.signals)),
            "last_event_at": account.last_event_at,
            "norm_sample": json_text(norm_sample(account.signals, day_number(account.score.as_of)))}


def _history_row(e: Evaluation) -> dict[str, Any]:
    s, p = e.score, e.previous
    components = {name: c.score for name, c in s.components.items()}
    return {
        "account_id": e.account_id, "as_of": s.as_of, "score": s.total, "grade": s.grade,
        "previous_score": p.total if p else None, "previous_grade": p.grade if p else None,
        "components": json_text(components), "component_deltas": json_text(e.component_deltas()),
        "reasons": json_text([r.to_json() for r in e.reasons]),
        "scorecard_segment": s.segment, "scorecard_version": s.scorecard_version, "cause": e.cause,
    }


def _alert_rows(advances: Sequence[Advance], alerts: Mapping[str, ChurnRiskAlert]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for a in advances:
        for e in a.evaluations:
            for decision in e.decisions.decisions:
                row = _alert_row(e.account_id, decision, alerts[decision.event_id])
                first = rows.get(decision.alert_id)
                if first is not None:
                    row["raised_at"] = first["raised_at"]
                rows[decision.alert_id] = row
    return list(rows.values())


def _alert_row(account_id: str, decision: AlertDecision, alert: ChurnRiskAlert) -> dict[str, Any]:
    return {
        "alert_id": decision.alert_id, "account_id": account_id, "kind": decision.kind,
        "severity": decision.severity, "status": "resolved" if decision.action == "resolved" else "open",
        "episode_start": decision.episode_start, "raised_at": decision.occurred_at,
        "occurred_at": decision.occurred_at, "event_id": decision.event_id,
        "payload": json_text(alert.published()),
    }


