"""``orchard simulate``: the demo's sample (``cli/sample.py``) at any size, written as JSON
Lines or sent to ingest at a chosen rate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

import orjson

from cli.events_file import Line
from cli.sample import generate_sample


def sample_events(*, now: datetime, accounts: int, days: int, seed: int, prefix: str) -> list[dict[str, Any]]:
    """The sample; `prefix` goes before every account and event id, so that runs with different
    prefixes are different accounts and never duplicates of each other."""
    events = generate_sample(now, accounts=accounts, days=days, seed=seed)
    if prefix:
        for event in events:
            event["event_id"] = prefix + event["event_id"]
            event["account_id"] = prefix + event["account_id"]
    return events


def as_lines(events: list[dict[str, Any]]) -> Iterator[Line]:
    return (Line(n, orjson.dumps(event)) for n, event in enumerate(events, start=1))


def write_jsonl(events: list[dict[str, Any]], stream: IO[bytes]) -> None:
    for event in events:
        stream.write(orjson.dumps(event) + b"\n")
