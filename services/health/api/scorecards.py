"""Scorecards: the current version per segment, their audit trail, publishing and a dry run."""

from __future__ import annotations

from fastapi import Path

from services.health import scorecards
from services.health.api.context import Ctx
from services.health.api.models import (
    GradeChange,
    Scorecard,
    ScorecardIn,
    ScorecardList,
    ScorecardPreview,
    ScorecardPublished,
)
from services.health.domain import ScorecardInvalid, scorecard_to_json
from shared.app import api_router
from shared.auth import ReadKey, WriteKey
from shared.errors import ApiError, error_responses

router = api_router(prefix="/v1/scorecards", tags=["scorecards"])

Segment = Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="`enterprise`, `mid_market`, `smb`, `default`, "
                                                             "or another segment named by contracts.")


def _model(stored: scorecards.StoredScorecard) -> Scorecard:
    card = stored.scorecard
    return Scorecard(segment=card.segment, version=card.version, created_by=stored.created_by,
                     created_at=stored.created_at, config=scorecard_to_json(card))


def _invalid(exc: ScorecardInvalid) -> ApiError:
    details = []
    for problem in exc.problems:
        loc, _, message = problem.partition(": ")
        details.append({"loc": f"body.{loc}", "msg": message, "type": "invalid_scorecard"})
    return ApiError(422, "the scorecard is not valid", details=details)


@router.get("", response_model=ScorecardList, summary="The current scorecard of each segment")
async def list_scorecards(_: ReadKey, ctx: Ctx) -> ScorecardList:
    async with ctx.sessions() as session:
        current = await scorecards.list_scorecards(session, ctx.tables)
    return ScorecardList(items=[_model(s) for s in current])


@router.get("/{segment}/versions", response_model=ScorecardList,
            summary="Every version of a segment's scorecard, newest first (the audit trail)")
async def scorecard_versions(*, segment: str = Segment, _: ReadKey, ctx: Ctx) -> ScorecardList:
    async with ctx.sessions() as session:
        versions = await scorecards.list_scorecards(session, ctx.tables, segment=segment, all_versions=True)
    if not versions:
        raise ApiError(404, f"no scorecard for segment {segment}")
    return ScorecardList(items=[_model(s) for s in versions])


@router.put("/{segment}", response_model=ScorecardPublished, responses=error_responses(429),
            summary="Publish a new version of a segment's scorecard and rescore its accounts")
async def put_scorecard(*, body: ScorecardIn, segment: str = Segment, who: WriteKey, ctx: Ctx) -> ScorecardPublished:
    """Validated (422 lists every problem with its field path), stored as a new version with who and
    when, then the accounts it affects are rescored before the reply, each at the time of its
    current score, so their history shows the change as `cause: scorecard` with the new version."""
    try:
        async with ctx.expensive.slot():
            stored, report = await scorecards.publish(ctx.sessions, ctx.tables, ctx.rescorer, segment=segment,
                                                      raw=body.model_dump(exclude_unset=True), created_by=who)
    except ScorecardInvalid as exc:
        raise _invalid(exc) from exc
    return ScorecardPublished(scorecard=_model(stored), rescored_accounts=report.accounts,
                              changed_scores=report.changed, alerts=report.alerts)


@router.post("/{segment}/preview", response_model=ScorecardPreview, responses=error_responses(429),
             summary="Dry run: the grades a candidate scorecard would give, storing nothing")
async def preview_scorecard(*, body: ScorecardIn, segment: str = Segment, _: WriteKey, ctx: Ctx) -> ScorecardPreview:
    """Needs the write scope: it scores every account of the segment, as publishing does."""
    try:
        async with ctx.expensive.slot():
            result = await scorecards.preview(ctx.sessions, ctx.tables, segment=segment,
                                              raw=body.model_dump(exclude_unset=True))
    except ScorecardInvalid as exc:
        raise _invalid(exc) from exc
    return ScorecardPreview(
        segment=result.segment, accounts=result.accounts, grade_changes=result.grade_changes,
        grades_now=dict(result.grades_now), grades_candidate=dict(result.grades_candidate),
        changes=[GradeChange(account_id=c.account_id, score=c.score, grade=c.grade,
                             candidate_score=c.candidate_score, candidate_grade=c.candidate_grade)
                 for c in result.changes],
    )
