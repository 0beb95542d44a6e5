"""Running the backtest over an archive, in one process or several: the accounts are independent, so
each worker replays a share of them from their raw lines; the results come back in account order
and are summarised once, so the figures are the same whatever the number of workers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from itertools import islice
from typing import Any

from services.health.backtest.core import AccountResult, BacktestSettings, backtest_account, summarise
from services.health.backtest.replay import Scorecard
from shared.backtest.history import Archive, history_from_lines

CHUNK_ACCOUNTS = 16

Chunk = list[tuple[str, list[bytes]]]


def backtest_archive(archive: Archive, *, horizon: datetime, scorecards: Mapping[str, Scorecard],
                     settings: BacktestSettings, workers: int = 1) -> dict[str, Any]:
    chunks = _chunks(archive, CHUNK_ACCOUNTS)
    if workers <= 1:
        results = [r for chunk in chunks for r in _replay_chunk(chunk, horizon, scorecards, settings)]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_replay_chunk, chunk, horizon, scorecards, settings) for chunk in chunks]
            results = [r for future in futures for r in future.result()]
    return summarise(results, horizon=horizon, settings=settings)


def _chunks(archive: Archive, size: int) -> Iterator[Chunk]:
    accounts = archive.account_lines()
    while chunk := list(islice(accounts, size)):
        yield chunk


def _replay_chunk(chunk: Sequence[tuple[str, list[bytes]]], horizon: datetime,
                  scorecards: Mapping[str, Scorecard], settings: BacktestSettings) -> list[AccountResult]:
    out = []
    for account_id, lines in chunk:
        result = backtest_account(history_from_lines(account_id, lines), horizon=horizon, scorecards=scorecards,
                                  settings=settings)
        if result is not None:
            out.append(result)
    return out
