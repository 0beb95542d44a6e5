"""``orchard send`` (and ``simulate --send``): events to ingest's ``POST /v1/events`` in requests
within its limits, with a progress bar, and a summary that maps every rejection to its line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.api import Api, error_message
from cli.errors import CliError
from cli.events_file import Line, batches, request_body
from cli.output import err, out, text

MAX_EVENTS = 1000
MAX_BYTES = 1024 * 1024
TOO_LARGE = frozenset({413})


@dataclass
class SendSummary:
    events: int = 0
    requests: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"events": self.events, "requests": self.requests, "accepted": self.accepted,
                "duplicates": self.duplicates, "rejected": self.rejected}


async def send_lines(api: Api, lines: Iterable[Line], *, total: int | None, max_events: int = MAX_EVENTS,
                     max_bytes: int = MAX_BYTES, rate: float | None = None, show_progress: bool = True,
                     ) -> SendSummary:
    """Post the lines in order; `rate` (events/s) paces them. Stops at the first request ingest
    refuses as a whole (service down, key refused): what was sent before stays sent, and sending the
    file again is safe because ingest counts those ids as duplicates."""
    summary = SendSummary()
    started = time.monotonic()
    with Progress(TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                  TextColumn("{task.fields[rate]} events/s"), TimeElapsedColumn(), console=err,
                  disable=not show_progress, transient=False) as progress:
        task = progress.add_task("send", total=total, rate="-")
        for batch in batches(lines, max_events=max_events, max_bytes=max_bytes):
            if rate:
                await asyncio.sleep(max(0.0, started + summary.events / rate - time.monotonic()))
            await _post(api, batch, summary)
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(task, advance=len(batch), rate=f"{summary.events / elapsed:,.0f}")
    return summary


async def _post(api: Api, batch: list[Line], summary: SendSummary) -> None:
    response = await api.request("ingest", "POST", "/v1/events", content=request_body(batch), passthrough=TOO_LARGE)
    summary.requests += 1
    summary.events += len(batch)
    if response.status_code == 413:
        if len(batch) > 1:
            raise CliError(f"ingest refused a request of {len(batch)} events as too large: {error_message(response)}",
                           hint="Lower --max-bytes or --batch-size to the service's limits.")
        summary.rejected.append({"line": batch[0].number, "event_id": _event_id(batch[0]),
                                 "errors": [{"loc": "", "msg": error_message(response), "type": "payload_too_large"}]})
        return
    reply = response.json()
    summary.accepted += reply["accepted"]
    summary.duplicates += reply["duplicates"]
    for item in reply["rejected"]:
        summary.rejected.append({"line": batch[item["index"]].number, "event_id": item.get("event_id"),
                                 "errors": item.get("errors", [])})


def _event_id(line: Line) -> str | None:
    try:
        value = orjson.loads(line.raw).get("event_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def print_summary(summary: SendSummary, *, source: str) -> None:
    out.print(f"{summary.events:,} events from {text(source)} in {summary.requests:,} requests: "
              f"[green]{summary.accepted:,} accepted[/], {summary.duplicates:,} duplicates (ids ingest had "
              f"already accepted), " + (f"[red]{len(summary.rejected):,} rejected[/]" if summary.rejected
                                        else "0 rejected"))
    if not summary.rejected:
        return
    table = Table(title="Rejected events", title_justify="left")
    for column in ("line", "event_id", "field", "problem"):
        table.add_column(column, overflow="fold")
    for item in summary.rejected[:200]:
        for n, error in enumerate(item["errors"] or [{"loc": "", "msg": "rejected"}]):
            table.add_row(str(item["line"]) if n == 0 else "", text(item["event_id"]) if n == 0 else "",
                          text(error.get("loc")), text(error.get("msg")))
    out.print(table)
    if len(summary.rejected) > 200:
        out.print(f"... and {len(summary.rejected) - 200:,} more (--json lists them all)")
