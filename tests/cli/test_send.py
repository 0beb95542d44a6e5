"""``orchard send`` through the real ingest: batches, the summary, rejected items by line, and
clear failures for a bad file, a refused key and a service that is down."""

from __future__ import annotations

import csv
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.cli.stack import INGEST_KEY, READER_KEY, Stack
from tests.infra import free_port

pytestmark = pytest.mark.e2e


def usage(account_id: str, n: int, **data: Any) -> dict[str, Any]:
    return {"event_id": f"{account_id}-u{n}", "type": "usage.recorded", "schema_version": 1, "account_id": account_id,
            "occurred_at": f"2026-10-{1 + n % 28:02d}T09:00:00Z", "source": "cli-test",
            "data": {"feature": "reports", "user_id": f"u{n % 3}", "quantity": 1, **data}}


def write_jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def test_a_file_is_sent_in_batches_with_rejected_items_named_by_line_and_a_resend_is_all_duplicates(
    stack: Stack, tmp_path: Path
) -> None:
    account = f"send-{uuid.uuid4().hex[:8]}"
    events = [usage(account, n) for n in range(7)]
    events[4]["data"]["quantity"] = -3  # the contract says >= 0
    path = write_jsonl(tmp_path / "events.jsonl", events[:2] + [{}] * 0 + events[2:])
    path.write_text(path.read_text().replace("\n", "\n\n", 1))  # a blank line: skipped, but lines keep counting

    done = stack.orchard("send", str(path), "--batch-size", "3", "--json")

    assert done.returncode == 1, done.stderr  # a rejected event is a failure to report
    summary = done.json()
    assert (summary["events"], summary["requests"], summary["accepted"], summary["duplicates"]) == (7, 3, 6, 0)
    [rejected] = summary["rejected"]
    assert rejected["line"] == 6 and rejected["event_id"] == f"{account}-u4"
    assert any("quantity" in e["loc"] for e in rejected["errors"])

    valid = write_jsonl(tmp_path / "valid.jsonl", [e for n, e in enumerate(events) if n != 4])
    again = stack.orchard("send", str(valid))
    assert again.returncode == 0, again.stderr
    assert "6 events" in again.stdout and "0 accepted" in again.stdout and "6 duplicates" in again.stdout


def test_a_csv_file_with_typed_data_columns_reaches_health(stack: Stack, tmp_path: Path) -> None:
    account = f"csv-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "events.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["event_id", "type", "schema_version", "account_id", "occurred_at", "data.contract_id",
                         "data.arr", "data.seats", "data.products", "data.start_date", "data.end_date",
                         "data.auto_renew", "data.feature", "data.quantity"])
        writer.writerow([f"{account}-c", "contract.signed", "1", account, "2026-09-01T00:00:00Z", "k1", "24000", "10",
                         "core;analytics", "2026-09-01", "2027-08-31", "true", "", ""])
        for n in range(3):
            writer.writerow([f"{account}-u{n}", "usage.recorded", "1", account, f"2026-09-0{n + 2}T10:00:00Z",
                             "", "", "", "", "", "", "", "dashboards", "2.5"])

    done = stack.orchard("send", str(path), "--json")

    assert done.returncode == 0, done.stderr
    assert done.json()["accepted"] == 4
    health = stack.scored(account)
    assert Decimal(health["arr"]) == 24000, "the contract row reached health with its typed cells"


@pytest.mark.parametrize(("content", "line", "problem"), [
    ('{"event_id": "a"}\n{"event_id": "b"}\n{not json\n', 3, "not JSON"),
    ('{"event_id": "a"}\n[1, 2]\n', 2, "JSON object"),
])
def test_a_malformed_file_is_a_usage_error_naming_its_line_and_nothing_is_sent(
    stack: Stack, tmp_path: Path, content: str, line: int, problem: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)

    done = stack.orchard("send", str(path))

    assert done.returncode == 2
    assert f"bad.jsonl:{line}" in done.stderr and problem in done.stderr
    assert "sending" not in done.stderr


def test_a_refused_key_and_a_service_that_is_down_are_explained(stack: Stack, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "one.jsonl", [usage(f"key-{uuid.uuid4().hex[:8]}", 1)])

    missing = stack.orchard("send", str(path), api_key=None)
    unknown = stack.orchard("send", str(path), api_key="not-a-key")
    reader = stack.orchard("send", str(path), api_key=READER_KEY)
    down = stack.orchard("--ingest-url", f"http://127.0.0.1:{free_port()}", "send", str(path), api_key=INGEST_KEY)

    assert (missing.returncode, unknown.returncode, reader.returncode, down.returncode) == (1, 1, 1, 1)
    assert "missing bearer API key" in missing.stderr and "ORCHARD_API_KEY" in missing.stderr
    assert "unknown API key" in unknown.stderr
    assert "ingest:write" in reader.stderr and "scope" in reader.stderr
    assert "cannot reach ingest" in down.stderr and "make run" in down.stderr
    assert "Traceback" not in missing.stderr + unknown.stderr + reader.stderr + down.stderr
