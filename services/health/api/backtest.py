"""`POST /v1/backtest`: the backtest command (`python -m services.health.backtest`) on an event history
sent in the body, scored with the scorecards in force (or the built-in ones), answered as JSON or as
the self-contained HTML page. "Did red at 90 days predict churn?" on a user's own book, before they
trust a scorecard.

It runs as a child process, as the command does: a replay is seconds to minutes of pure CPU, and in
the service's own process it would hold the interpreter while the consumer and the other requests
wait. One at a time per instance (429 otherwise), within a time limit (504)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.health.api.context import Ctx
from services.health.domain import DEFAULT_SCORECARDS, scorecard_to_json
from services.health.store import load_scorecards
from shared.app import api_router
from shared.auth import WriteKey
from shared.errors import ApiError, error_responses
from shared.guards import ConcurrencyLimit

COMMAND = [sys.executable, "-m", "services.health.backtest"]
BODY = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    "description": "The event history as JSON Lines (any content type): one input envelope per line (as "
                   "`POST /v1/events` takes them, or an export of the canonical topics), gzip allowed. "
                   "Outcomes are read from its contract events (cancelled, not renewed, contracted)."}}
GZIP = b"\x1f\x8b"


REPORT: dict[int | str, dict[str, Any]] = {200: {
    "description": "The report: JSON (`format=json`) or a self-contained HTML page with charts (`format=html`)",
    "content": {"application/json": {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}}}


def build_backtest_router(*, max_body_bytes: int, timeout_s: float) -> APIRouter:
    router = api_router(prefix="/v1", tags=["backtest"])
    running = ConcurrencyLimit(1, what="backtest", retry_after_s=60)

    @router.post("/backtest", response_model=None, responses={**REPORT, **error_responses(400, 429, 504)},
                 openapi_extra=BODY, max_body_size=max_body_bytes,
                 summary="Replay an event history through the scoring and judge it against its outcomes")
    async def run_backtest(
        *,
        request: Request,
        snapshots: str = Query("month-end", description="comma-separated: month-end, pre-renewal"),
        until: datetime | None = Query(None, description="horizon with a UTC offset (default: the last event)"),
        folds: int = Query(5, ge=2, le=20, description="folds of the supervised baseline's cross-validation"),
        scorecards: Literal["current", "default"] = Query(
            "current", description="the scorecards in force in this service, or the built-in ones"),
        output: Literal["json", "html"] = Query("json", alias="format"),
        alert_ceiling: bool = Query(False, description="also what the history allows an alert to do: a usage model "
                                    "fitted to its outcomes, every threshold tried (`alert_ceiling` in the report; "
                                    "about a minute per 300 accounts)"),
        _: WriteKey,
        ctx: Ctx,
    ) -> Response:
        """Needs the write scope (it is expensive). AUC of the score and of a supervised baseline on the
        same snapshots, churn rate by grade, alert precision, recall and lead time, per component and
        per segment: the report `python -m services.health.backtest` writes."""
        body = await request.body()
        if not body.strip():
            raise ApiError(400, "the body is empty: send the event history as JSONL (gzip allowed)")
        if not (body.startswith(GZIP) or body.lstrip().startswith(b"{")):
            # Cheap before a child process: JSON Lines start with an object, gzip with its magic number.
            raise ApiError(400, "the body is neither JSON Lines (one event object per line) nor gzip")
        if until is not None and until.tzinfo is None:
            raise ApiError(400, "until needs a UTC offset, e.g. 2026-06-30T23:59:59Z")
        async with running.slot():
            cards = DEFAULT_SCORECARDS
            if scorecards == "current":
                async with ctx.sessions() as session:
                    cards = {**DEFAULT_SCORECARDS, **await load_scorecards(session, ctx.tables)}
            report, page = await _run(body, {s: scorecard_to_json(c) for s, c in cards.items()},
                                      snapshots=snapshots, until=until, folds=folds, timeout_s=timeout_s,
                                      label=scorecards, alert_ceiling=alert_ceiling)
        return HTMLResponse(page) if output == "html" else JSONResponse(report)

    return router


async def _run(body: bytes, cards: dict[str, Any], *, snapshots: str, until: datetime | None, folds: int,
               timeout_s: float, label: str, alert_ceiling: bool) -> tuple[dict[str, Any], str]:
    with tempfile.TemporaryDirectory(prefix="orchard-backtest-") as work:
        folder = Path(work)
        (folder / "history.jsonl").write_bytes(body)
        (folder / f"{label}-scorecards.json").write_text(json.dumps(cards))
        args = ["--events", str(folder / "history.jsonl"), "--snapshots", snapshots, "--folds", str(folds),
                "--scorecards", str(folder / f"{label}-scorecards.json"), "--out", str(folder / "out"),
                "--name", "uploaded history"]
        if until is not None:
            args += ["--until", until.isoformat()]
        if alert_ceiling:
            args.append("--alert-ceiling")
        child = await asyncio.create_subprocess_exec(*COMMAND, *args, stdout=asyncio.subprocess.PIPE,
                                                     stderr=asyncio.subprocess.PIPE)
        try:
            _, errors = await asyncio.wait_for(child.communicate(), timeout=timeout_s)
        except (TimeoutError, asyncio.CancelledError):
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()
            raise ApiError(504, f"the backtest ran over {timeout_s:g} s and was stopped; send a shorter history "
                           "or run `python -m services.health.backtest` on it") from None
        if child.returncode != 0:
            lines = errors.decode(errors="replace").strip().splitlines()
            raise ApiError(400, f"the backtest could not run on this history: {lines[-1] if lines else 'no reason'}")
        report: dict[str, Any] = json.loads((folder / "out" / "backtest.json").read_text())
        # the temporary files' paths say nothing to the caller; which scorecards it chose does
        report["dataset"].pop("files", None)
        report["settings"]["scorecards"] = {"current": "current: the scorecards in force in this service",
                                            "default": "default: the built-in scorecards"}[label]
        return report, (folder / "out" / "backtest.html").read_text()
