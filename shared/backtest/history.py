"""Reading an event history: JSONL archives (optionally gzip) of input envelopes, grouped by account.

This is the backtest's only I/O. Every line goes through `parse_event`, as ingest would: a line that
does not validate is counted as rejected (with its first reasons kept for the report), and a repeated
`event_id` changes nothing the second time. Lines are kept as bytes, grouped by account, and parsed
again one account at a time, so a large archive costs its size in memory, not its size in objects.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, cast

from shared.events import Envelope, EventValidationError, parse_event

KEPT_REJECTIONS = 10


@dataclass(frozen=True, slots=True)
class AccountHistory:
    account_id: str
    events: tuple[Envelope, ...]
    """In event-time order (ties by event id)."""


@dataclass
class ArchiveStats:
    lines: int = 0
    events: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"lines": self.lines, "events": self.events, "duplicates": self.duplicates,
                "rejected": self.rejected, "first_rejections": list(self.rejections)}


def _open(path: Path) -> IO[bytes]:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


@dataclass
class Archive:
    paths: tuple[Path, ...]
    stats: ArchiveStats
    first: datetime | None
    horizon: datetime | None
    """The latest event time: the end of what the archive can tell."""
    _lines: dict[str, list[bytes]]

    @property
    def accounts(self) -> int:
        return len(self._lines)

    def histories(self) -> Iterator[AccountHistory]:
        """Each account's events, accounts in sorted order."""
        for account_id, lines in self.account_lines():
            yield history_from_lines(account_id, lines)

    def account_lines(self) -> Iterator[tuple[str, list[bytes]]]:
        """Each account's raw lines (already validated), accounts in sorted order: what to hand to
        another process, which parses them with `history_from_lines`."""
        for account_id in sorted(self._lines):
            yield account_id, self._lines[account_id]


def history_from_lines(account_id: str, lines: Sequence[bytes]) -> AccountHistory:
    events = sorted((parse_event(line) for line in lines), key=lambda e: (e.occurred_at, e.event_id))
    return AccountHistory(account_id, tuple(events))


def read_archive(paths: Sequence[Path]) -> Archive:
    stats = ArchiveStats()
    seen: set[str] = set()
    lines: dict[str, list[bytes]] = {}
    first: datetime | None = None
    last: datetime | None = None
    for path in paths:
        with _open(path) as handle:
            for number, raw in enumerate(handle, start=1):
                line = raw.strip()
                if not line:
                    continue
                stats.lines += 1
                try:
                    event = parse_event(line)
                except EventValidationError as exc:
                    stats.rejected += 1
                    if len(stats.rejections) < KEPT_REJECTIONS:
                        stats.rejections.append(f"{path.name}:{number}: {exc}")
                    continue
                if event.event_id in seen:
                    stats.duplicates += 1
                    continue
                seen.add(event.event_id)
                stats.events += 1
                lines.setdefault(event.account_id, []).append(line)
                first = event.occurred_at if first is None or event.occurred_at < first else first
                last = event.occurred_at if last is None or event.occurred_at > last else last
    return Archive(tuple(paths), stats, first, last, lines)
