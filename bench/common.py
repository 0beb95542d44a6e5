"""Helpers shared by the benchmarks: infrastructure, result files, timing."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.infra import REPO, Infra, provide_infra

RESULTS = REPO / "bench" / "results"

__all__ = ["RESULTS", "Infra", "git_revision", "provide_infra", "write_result"]


def git_revision() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def write_result(name: str, figures: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` (latest run) and append to ``<name>.jsonl`` (history)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": name,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": git_revision(),
        "machine": {"python": sys.version.split()[0], "cpus": _cpus(), "platform": platform.platform()},
        **figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    with (RESULTS / f"{name}.jsonl").open("a") as history:
        history.write(json.dumps(record) + "\n")
    print(json.dumps(record, indent=2))
    return path


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.started
