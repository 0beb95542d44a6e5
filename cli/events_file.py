"""Reading a file of events (JSON Lines, optionally gzipped, or CSV) with the line each came from,
and cutting it into requests ingest accepts (at most 1,000 events and 1 MiB a body)."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from cli.errors import BadFile
from shared.events import EVENT_TYPES, input_event_schema

FileFormat = Literal["jsonl", "csv"]
ENVELOPE_COLUMNS = ("event_id", "type", "schema_version", "account_id", "occurred_at", "source")
# `{"events":[` + `]}` around the items, and one comma between two of them.
BODY_OVERHEAD = len(b'{"events":[]}')


@dataclass(frozen=True)
class Line:
    number: int
    raw: bytes


def file_format(path: Path, explicit: FileFormat | None) -> FileFormat:
    if explicit is not None:
        return explicit
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    raise BadFile(str(path), None, "cannot tell the format from the name: give --format jsonl or --format csv")


def _open_text(path: Path) -> IO[str]:
    try:
        if path.name.lower().endswith(".gz"):
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
        return path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise BadFile(str(path), None, f"cannot open: {exc.strerror or exc}") from exc


def read_events(path: Path, fmt: FileFormat) -> Iterator[Line]:
    """Every event of the file as JSON bytes, with its line number; a line that is not an event
    stops the reading with ``BadFile`` naming that line."""
    with _open_text(path) as text:
        try:
            yield from (_jsonl(path, text) if fmt == "jsonl" else _csv(path, text))
        except UnicodeDecodeError as exc:
            raise BadFile(str(path), None, f"not UTF-8 text ({exc.reason})") from exc
        except (OSError, EOFError) as exc:  # e.g. a truncated gzip file
            raise BadFile(str(path), None, f"cannot read: {exc}") from exc


def _jsonl(path: Path, text: IO[str]) -> Iterator[Line]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        raw = line.strip().encode()
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadFile(str(path), number, f"not JSON ({exc})") from exc
        if not isinstance(value, dict):
            raise BadFile(str(path), number, f"an event is a JSON object, not {type(value).__name__}")
        yield Line(number, raw)


def _csv(path: Path, text: IO[str]) -> Iterator[Line]:
    reader = csv.DictReader(text)
    columns = reader.fieldnames or []
    unknown = [c for c in columns if c not in (*ENVELOPE_COLUMNS, "data") and not c.startswith("data.")]
    if unknown:
        raise BadFile(str(path), 1, f"unknown column(s) {', '.join(unknown)}: use {', '.join(ENVELOPE_COLUMNS)}, "
                      "data (a JSON object) or data.<field>")
    for row in reader:
        number = reader.line_num
        if None in row:
            raise BadFile(str(path), number, "more cells than columns")
        yield Line(number, orjson.dumps(_csv_event(path, number, row)))


def _csv_event(path: Path, number: int, row: dict[str, str]) -> dict[str, Any]:
    event: dict[str, Any] = {k: row[k] for k in ENVELOPE_COLUMNS if row.get(k)}
    if event.get("schema_version", "").isdigit():
        event["schema_version"] = int(event["schema_version"])
    data: dict[str, Any] = {}
    if row.get("data"):
        try:
            data = orjson.loads(row["data"])
        except orjson.JSONDecodeError as exc:
            raise BadFile(str(path), number, f"the data cell is not JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise BadFile(str(path), number, "the data cell is not a JSON object")
    types = _field_types(event.get("type", ""))
    for column, cell in row.items():
        if column.startswith("data.") and cell != "":
            name = column.removeprefix("data.")
            data[name] = typed_cell(cell, types.get(name, {"string"}))
    event["data"] = data
    return event


def _field_types(event_type: str) -> dict[str, set[str]]:
    """Each data field's JSON types, from the published schema of the event type (CSV cells are text)."""
    if event_type not in EVENT_TYPES:
        return {}
    fields = input_event_schema(event_type)["properties"]["data"].get("properties", {})
    out: dict[str, set[str]] = {}
    for name, spec in fields.items():
        options = spec.get("anyOf", [spec])
        out[name] = {t for option in options for t in _types(option.get("type"))}
    return out


def _types(declared: str | list[str] | None) -> list[str]:
    if declared is None:
        return ["string"]
    return [declared] if isinstance(declared, str) else declared


def typed_cell(cell: str, types: set[str]) -> Any:
    """A CSV cell as the JSON value its field wants; left as text when it does not convert, so that
    ingest rejects it with the field's own error."""
    if cell == "null" and "null" in types:
        return None
    if "string" in types:
        return cell
    if "boolean" in types and cell.lower() in ("true", "false"):
        return cell.lower() == "true"
    if "integer" in types and cell.lstrip("-").isdigit():
        return int(cell)
    if "number" in types:
        try:
            return orjson.loads(cell) if cell.strip() and cell.strip()[0] in "-0123456789" else cell
        except orjson.JSONDecodeError:
            return cell
    if "array" in types:
        if cell.startswith("["):
            try:
                return orjson.loads(cell)
            except orjson.JSONDecodeError:
                return cell
        return [part.strip() for part in cell.split(";") if part.strip()]
    return cell


def batches(lines: Iterable[Line], *, max_events: int, max_bytes: int) -> Iterator[list[Line]]:
    """Consecutive lines in requests of at most `max_events` events and `max_bytes` bytes of body.
    An event too large to fit alone goes alone: ingest judges it and says why."""
    batch: list[Line] = []
    size = BODY_OVERHEAD
    for line in lines:
        added = len(line.raw) + (1 if batch else 0)
        if batch and (len(batch) >= max_events or size + added > max_bytes):
            yield batch
            batch, size, added = [], BODY_OVERHEAD, len(line.raw)
        batch.append(line)
        size += added
    if batch:
        yield batch


def request_body(batch: list[Line]) -> bytes:
    return b'{"events":[' + b",".join(line.raw for line in batch) + b"]}"
