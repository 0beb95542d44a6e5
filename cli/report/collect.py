"""Asking the four services for what the report shows (read scope only). A section whose service
cannot answer is left empty with the reason, so one service down still leaves a useful report."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from cli.api import Api
from cli.errors import CliError
from cli.report.figures import Json, ReportData, at_risk_accounts, forecast_periods, retention_periods

T = TypeVar("T")

TREND_DAYS = 90
AT_RISK_SHOWN = 25
# Histories are one request (or a few pages) per account: enough to draw a book of a few thousand.
HISTORY_ACCOUNTS_MAX = 2000
CONCURRENCY = 8
# Where a backtest leaves its figures: the benchmark's summary, or `python -m services.health.backtest`'s --out.
BACKTEST_CANDIDATES = (Path("bench/results/signal_quality.json"), Path("backtest-out/backtest.json"))


async def collect_report_data(api: Api, *, now: datetime, backtest: Path | None = None) -> ReportData:
    problems: dict[str, str] = {}

    async def section(name: str, fetch: Awaitable[T]) -> T | None:
        try:
            return await fetch
        except CliError as exc:
            problems[name] = exc.message
            return None

    accounts = await section("health", api.items("health", "/v1/accounts", sort="score")) or []
    renewals, forecasts, retention, opportunities, weighted = await asyncio.gather(
        section("renewals", api.items("renewals", "/v1/renewals", due_within_days=120)),
        section("forecast", _each(api, "/v1/forecast", forecast_periods(now))),
        section("retention", _each(api, "/v1/metrics/retention", retention_periods(now))),
        section("expansion", api.items("expansion", "/v1/opportunities")),
        section("pipeline", api.get("expansion", "/v1/pipeline")),
    )
    histories: dict[str, list[Json]] | None = {}
    at_risk: list[Json] | None = []
    if accounts:
        since = now - timedelta(days=TREND_DAYS)
        histories, at_risk = await asyncio.gather(
            section("history", _histories(api, accounts[:HISTORY_ACCOUNTS_MAX], since)),
            section("at_risk", _details(api, at_risk_accounts(accounts, limit=AT_RISK_SHOWN))),
        )
    found, backtest_json = load_backtest(backtest)
    if backtest is not None and found is None:
        problems["signal_quality"] = f"no backtest at {backtest}"
    return ReportData(generated_at=now, accounts=accounts, histories=histories or {}, at_risk=at_risk or [],
                      renewals=renewals or [], forecasts=forecasts or [], retention=retention or [],
                      opportunities=opportunities or [], weighted_pipeline=weighted,
                      backtest=backtest_json, backtest_path=None if found is None else str(found), problems=problems)


async def _each(api: Api, path: str, periods: list[str]) -> list[Json]:
    return list(await asyncio.gather(*(api.get("renewals", path, period=p) for p in periods)))


async def _bounded(jobs: list[Callable[[], Awaitable[T]]]) -> list[T]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(run(job) for job in jobs)))


async def _histories(api: Api, accounts: list[Json], since: datetime) -> dict[str, list[Json]]:
    def job(account_id: str) -> Callable[[], Awaitable[list[Json]]]:
        path = f"/v1/accounts/{quote(account_id, safe='')}/health/history"
        window: dict[str, Any] = {"from": since.isoformat()}  # `from` is a Python keyword
        return lambda: api.items("health", path, **window)

    ids = [a["account_id"] for a in accounts]
    return dict(zip(ids, await _bounded([job(i) for i in ids]), strict=True))


async def _details(api: Api, accounts: list[Json]) -> list[Json]:
    def job(account_id: str) -> Callable[[], Awaitable[Any]]:
        return lambda: api.get_or_none("health", f"/v1/accounts/{quote(account_id, safe='')}/health")

    found = await _bounded([job(a["account_id"]) for a in accounts])
    return [detail for detail in found if detail is not None]


def load_backtest(path: Path | None) -> tuple[Path | None, Json | None]:
    """The backtest figures at `path` (a JSON file, or a --out folder holding backtest.json), or at
    the usual places when no path is given; (None, None) when there is none yet."""
    candidates = [path / "backtest.json" if path.is_dir() else path] if path is not None else BACKTEST_CANDIDATES
    for candidate in candidates:
        if candidate.is_file():
            try:
                value = json.loads(candidate.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(value, dict):
                return candidate, value
    return None, None
