"""Writing a data set: gzip JSONL of input envelopes, with a `<file>.meta.json` beside it that the
backtest copies into its report (name, generator, seed, parameters, sizes)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "bench" / ".cache" / "datasets"

Envelope = dict[str, Any]


def envelope(event_id: str, event_type: str, account_id: str, at: datetime, data: Mapping[str, Any], *,
             source: str) -> Envelope:
    return {"event_id": event_id, "type": event_type, "schema_version": 1, "account_id": account_id,
            "occurred_at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "source": source, "data": dict(data)}


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def write_dataset(path: Path, events: Iterable[Envelope], meta: Mapping[str, Any]) -> dict[str, Any]:
    """Write `events` (in the order given) and the meta sidecar; returns the meta with its sizes.
    gzip's header carries no timestamp here (mtime=0), so the same data gives the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    accounts: set[str] = set()
    count = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as out:
        for e in events:
            out.write(orjson.dumps(e) + b"\n")
            accounts.add(e["account_id"])
            count += 1
    tmp.replace(path)
    full = {**meta, "events": count, "accounts": len(accounts)}
    path.with_name(path.name + ".meta.json").write_text(json.dumps(full, indent=1, sort_keys=True) + "\n")
    return full


def read_meta(path: Path) -> dict[str, Any] | None:
    sidecar = path.with_name(path.name + ".meta.json")
    if not path.exists() or not sidecar.exists():
        return None
    meta: dict[str, Any] = json.loads(sidecar.read_text())
    return meta
