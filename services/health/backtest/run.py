"""Running the backtest over an archive, in one process or several: the accounts are independent, so
each worker replays a share of them from their raw lines; the results come back in account order
and are summarised once, so the figures are the same whatever the number of workers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from itertools import islice
from typing import Any

from services.health.backtest.core import (
    AccountResult,
    BacktestSettings,
    backtest_account,
    norm_refreshes,
    summarise,
)
from services.health.backtest.replay import NormSample, Scorecard, norms_from_samples, sample_account
from services.health.domain import NormsHistory
from shared.backtest.history import Archive, history_from_lines

CHUNK_ACCOUNTS = 16

Chunk = list[tuple[str, list[bytes]]]


def backtest_archive(archive: Archive, *, horizon: datetime, scorecards: Mapping[str, Scorecard],
                     settings: BacktestSettings, workers: int = 1) -> dict[str, Any]:
    results = replay_archive(archive, horizon=horizon, scorecards=scorecards, settings=settings, workers=workers)
    return summarise(results, horizon=horizon, settings=settings)


def replay_archive(archive: Archive, *, horizon: datetime, scorecards: Mapping[str, Scorecard],
                   settings: BacktestSettings, workers: int = 1,
                   alert_variants: Sequence[Mapping[str, Scorecard]] = ()) -> list[AccountResult]:
    """Two passes, as the service works: every account's norm samples at each refresh (the cohort norms
    a live run would have rebuilt), then every account's replay with those norms; in account order.
    `alert_variants`: cards differing in their alert rules only (calibration), replayed in the same pass."""
    if archive.first is None:
        return []
    refreshes = norm_refreshes(archive.first, horizon)
    if workers <= 1:
        norms = norms_from_samples(s for chunk in _chunks(archive, CHUNK_ACCOUNTS)
                                   for s in _sample_chunk(chunk, horizon, refreshes))
        return [r for chunk in _chunks(archive, CHUNK_ACCOUNTS)
                for r in _replay_chunk(chunk, horizon, scorecards, settings, norms, alert_variants)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        sampled = [pool.submit(_sample_chunk, chunk, horizon, refreshes)
                   for chunk in _chunks(archive, CHUNK_ACCOUNTS)]
        norms = norms_from_samples(s for future in sampled for s in future.result())
        futures = [pool.submit(_replay_chunk, chunk, horizon, scorecards, settings, norms, alert_variants)
                   for chunk in _chunks(archive, CHUNK_ACCOUNTS)]
        return [r for future in futures for r in future.result()]


def _sample_chunk(chunk: Sequence[tuple[str, list[bytes]]], horizon: datetime,
                  refreshes: Sequence[datetime]) -> list[NormSample]:
    out = []
    for account_id, lines in chunk:
        events = tuple(e for e in history_from_lines(account_id, lines).events if e.occurred_at <= horizon)
        out.extend(sample_account(events, refreshes))
    return out


def _chunks(archive: Archive, size: int) -> Iterator[Chunk]:
    accounts = archive.account_lines()
    while chunk := list(islice(accounts, size)):
        yield chunk


def _replay_chunk(chunk: Sequence[tuple[str, list[bytes]]], horizon: datetime, scorecards: Mapping[str, Scorecard],
                  settings: BacktestSettings, norms: NormsHistory,
                  alert_variants: Sequence[Mapping[str, Scorecard]] = ()) -> list[AccountResult]:
    out = []
    for account_id, lines in chunk:
        result = backtest_account(history_from_lines(account_id, lines), horizon=horizon, scorecards=scorecards,
                                  settings=settings, norms=norms, alert_variants=alert_variants)
        if result is not None:
            out.append(result)
    return out
