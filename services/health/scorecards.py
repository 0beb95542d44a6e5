"""Scorecards as the service keeps them: versioned per segment, audited, previewed before publishing.

A PUT stores a NEW version (who and when recorded; old versions are kept), then rescores the
affected accounts synchronously, in chunks, before it answers: the caller learns how many accounts
were rescored and how many changed grade. Should the process die part-way, the scheduler finds the
accounts still scored with an older version and rescores them (see `store.due_accounts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.health.domain import (
    Scorecard,
    ScorecardInvalid,
    contract_summary,
    score_account,
    scorecard_for,
    scorecard_to_json,
    validate_scorecard,
)
from services.health.scheduler import Rescorer, RescoreReport
from services.health.store import HealthTables, accounts_of_scorecard, load_accounts, load_scorecards
from shared.db import unit_of_work

PREVIEW_CHUNK = 500
PREVIEW_SAMPLE = 100


@dataclass(frozen=True)
class StoredScorecard:
    scorecard: Scorecard
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class GradeChange:
    account_id: str
    score: float | None
    grade: str | None
    candidate_score: float
    candidate_grade: str


@dataclass(frozen=True)
class Preview:
    segment: str
    accounts: int
    grade_changes: int
    grades_now: Mapping[str, int]
    grades_candidate: Mapping[str, int]
    changes: tuple[GradeChange, ...]
    """Up to PREVIEW_SAMPLE of the accounts that would change grade."""


def candidate(segment: str, raw: Mapping[str, Any], *, version: int = 1) -> Scorecard:
    """Validate a scorecard sent for `segment` (raises ScorecardInvalid listing every problem). The
    segment comes from the path and the version from the store; a body that names another segment
    is a mistake worth reporting, a body's version is ignored."""
    body = {k: v for k, v in raw.items() if k != "version"} if isinstance(raw, Mapping) else raw
    if isinstance(body, dict):
        body.setdefault("segment", segment)
    card = validate_scorecard(body)
    if card.segment != segment:
        raise ScorecardInvalid([f"segment: the body names {card.segment!r} but the path names {segment!r}"])
    return replace(card, version=version)


async def list_scorecards(session: AsyncSession, tables: HealthTables, *, segment: str | None = None,
                          all_versions: bool = False) -> list[StoredScorecard]:
    t = tables.scorecards
    query = sa.select(t.c.config, t.c.created_by, t.c.created_at)
    if segment is not None:
        query = query.where(t.c.segment == segment)
    if all_versions:
        query = query.order_by(t.c.segment, t.c.version.desc())
    else:
        query = query.ext(distinct_on(t.c.segment)).order_by(t.c.segment, t.c.version.desc())
    rows = await session.execute(query)
    return [StoredScorecard(validate_scorecard(config), created_by, created_at)
            for config, created_by, created_at in rows]


async def publish(
    sessions: async_sessionmaker[AsyncSession],
    tables: HealthTables,
    rescorer: Rescorer,
    *,
    segment: str,
    raw: Mapping[str, Any],
    created_by: str,
) -> tuple[StoredScorecard, RescoreReport]:
    """Store `raw` as the next version of `segment`'s scorecard, then rescore its accounts."""
    card = candidate(segment, raw)
    t = tables.scorecards
    async with unit_of_work(sessions) as session:
        # Two concurrent PUTs of one segment: the second waits here and takes the next version.
        await session.execute(sa.select(sa.func.pg_advisory_xact_lock(
            sa.func.hashtext(f"{tables.schema}:scorecard:{segment}"))))
        latest = await session.scalar(sa.select(sa.func.max(t.c.version)).where(t.c.segment == segment))
        card = replace(card, version=(latest or 0) + 1)
        row = (await session.execute(
            sa.insert(t).values(segment=segment, version=card.version,
                                config=orjson.loads(orjson.dumps(scorecard_to_json(card))),
                                created_by=created_by, created_at=sa.func.now())
            .returning(t.c.created_at)
        )).one()
    report = await rescorer.rescore_scorecard(segment)
    return StoredScorecard(card, created_by, row.created_at), report


async def preview(
    sessions: async_sessionmaker[AsyncSession], tables: HealthTables, *, segment: str, raw: Mapping[str, Any]
) -> Preview:
    """What `raw` would do if published now, storing nothing: each affected account scored with it at
    the time of its current score, exactly as the rescore after a PUT would, against its grade now."""
    card = candidate(segment, raw)
    after, accounts, changed = "", 0, 0
    grades_now: dict[str, int] = {}
    grades_candidate: dict[str, int] = {}
    sample: list[GradeChange] = []
    async with sessions() as session:
        scorecards = {**await load_scorecards(session, tables), segment: card}
        while True:
            ids = await accounts_of_scorecard(session, tables, segment, after=after, limit=PREVIEW_CHUNK)
            if not ids:
                break
            after = ids[-1]
            for account in (await load_accounts(session, tables, ids)).values():
                now = account.score
                as_of = now.as_of if now else None
                if as_of is None or scorecard_for(contract_summary(account.signals, as_of.date()).segment,
                                                  scorecards) is not card:
                    continue
                scored = score_account(account.signals, card, as_of=as_of, previous_grade=now.grade if now else None)
                accounts += 1
                grade_now = now.grade if now else "unscored"
                grades_now[grade_now] = grades_now.get(grade_now, 0) + 1
                grades_candidate[scored.grade] = grades_candidate.get(scored.grade, 0) + 1
                if scored.grade != grade_now:
                    changed += 1
                    if len(sample) < PREVIEW_SAMPLE:
                        sample.append(GradeChange(account.account_id, now.total if now else None,
                                                  now.grade if now else None, scored.total, scored.grade))
    return Preview(segment, accounts, changed, grades_now, grades_candidate, tuple(sample))
