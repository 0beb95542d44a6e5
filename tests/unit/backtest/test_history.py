"""Reading an archive: validated like ingest, duplicates ignored, accounts grouped and ordered."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from shared.backtest.history import read_archive

pytestmark = pytest.mark.unit


def _line(event_id: str, account: str, at: str) -> str:
    return json.dumps({"event_id": event_id, "type": "usage.recorded", "schema_version": 1, "account_id": account,
                       "occurred_at": at, "data": {"feature": "search"}})


def test_an_archive_is_read_like_ingest_would_read_it(tmp_path: Path) -> None:
    plain = tmp_path / "a.jsonl"
    plain.write_text("\n".join([_line("e2", "b", "2026-01-02T10:00:00Z"), _line("e1", "b", "2026-01-01T10:00:00Z"),
                                _line("e1", "b", "2026-01-01T10:00:00Z"), '{"event_id": "bad"}', ""]))
    zipped = tmp_path / "b.jsonl.gz"
    with gzip.open(zipped, "wt") as out:
        out.write(_line("e3", "a", "2026-01-03T10:00:00+02:00") + "\n")
    archive = read_archive([plain, zipped])
    assert (archive.stats.events, archive.stats.duplicates, archive.stats.rejected) == (3, 1, 1)
    assert archive.stats.rejections[0].startswith("a.jsonl:4:")
    assert archive.horizon is not None and archive.horizon.isoformat() == "2026-01-03T08:00:00+00:00"
    histories = list(archive.histories())
    assert [h.account_id for h in histories] == ["a", "b"]
    assert [e.event_id for e in histories[1].events] == ["e1", "e2"], "in event-time order"
