"""``orchard backtest`` and ``orchard calibrate`` hand over to the health backtest and calibration; ``orchard
simulate --out`` writes the demo's sample as JSON Lines that ``orchard send`` takes whole."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.sample import generate_sample
from tests.cli.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("command", ["backtest", "calibrate"])
def test_backtest_and_calibrate_pass_their_arguments_through(stack: Stack, command: str) -> None:
    done = stack.orchard(command, "--help")

    assert done.returncode == 0, done.stderr
    assert "--events" in done.stdout and "--folds" in done.stdout, "the command's own help, not the CLI's"


def test_simulate_writes_the_sample_that_send_takes(stack: Stack, tmp_path: Path) -> None:
    prefix = f"sim{uuid.uuid4().hex[:6]}-"
    path = tmp_path / "sample.jsonl"
    now = "2026-11-20T12:00:00Z"

    written = stack.orchard("simulate", "--accounts", "3", "--days", "20", "--prefix", prefix, "--now", now,
                            "--out", str(path))

    assert written.returncode == 0, written.stderr
    events = [json.loads(line) for line in path.read_text().splitlines()]
    expected = generate_sample(datetime(2026, 11, 20, 12, tzinfo=UTC), accounts=3, days=20)
    assert len(events) == len(expected) and events[0]["event_id"] == prefix + expected[0]["event_id"]
    assert {e["account_id"] for e in events} == {f"{prefix}acct-00{n}" for n in (1, 2, 3)}
    sent = stack.orchard("send", str(path), "--json")
    assert sent.returncode == 0, sent.stderr
    assert sent.json()["accepted"] == len(events) and sent.json()["rejected"] == []


def test_simulate_needs_a_destination(stack: Stack) -> None:
    done = stack.orchard("simulate", "--accounts", "1")

    assert done.returncode == 2 and "--send" in done.stderr
