"""Helpers shared by the benchmarks: infrastructure, result files, timing."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient

from tests.infra import REPO, Infra, provide_infra

# A smoke test points this elsewhere so that its tiny runs never replace the real figures.
RESULTS = Path(os.environ.get("ORCHARD_BENCH_RESULTS") or REPO / "bench" / "results")

__all__ = ["RESULTS", "Infra", "git_revision", "provide_infra", "quick", "write_result"]

_UNIQUES: list[str] = []


def new_unique() -> str:
    """A suffix for a run's topics, schemas and groups; `delete_topics` removes the topics at the end."""
    suffix = uuid.uuid4().hex[:8]
    _UNIQUES.append(suffix)
    return suffix


async def delete_topics(bootstrap: str) -> None:
    """This process's topics only (others may share the broker, which runs out of file handles when
    every run leaves its topics behind)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="orchard-bench-cleanup")
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if any(u in t for u in _UNIQUES)]
        for start in range(0, len(mine), 100):
            await admin.delete_topics(mine[start:start + 100])
    finally:
        await admin.close()


@asynccontextmanager
async def bench_infra() -> AsyncIterator[Infra]:
    """`provide_infra` (the environment's broker and database when both are named: nothing started),
    and this run's topics deleted at the end."""
    with provide_infra() as infra:
        try:
            yield infra
        finally:
            await delete_topics(infra.kafka_bootstrap)


def quick() -> bool:
    """``BENCH_QUICK=1``: every benchmark at a size that only shows it runs (the smoke test's mode)."""
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


def sized(name: str, full: int, small: int) -> int:
    """An event or account count: the environment's ``name`` if set, else the full or the quick size."""
    return int(os.environ.get(name) or (small if quick() else full))


def load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages: on a shared machine, the context of a figure."""
    return [round(x, 2) for x in os.getloadavg()]


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
        "machine": {"python": sys.version.split()[0], "cpus": _cpus(), "platform": platform.platform(),
                    "load_average_at_end": load_average()},
        "quick": quick(),
        **figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    with (RESULTS / f"{name}.jsonl").open("a") as history:
        history.write(json.dumps(record) + "\n")
    print(json.dumps(record, indent=2))
    return path


def _cpus() -> int:
    return os.cpu_count() or 0


class ProcessMeter:
    """CPU seconds and peak resident memory of one process, from /proc (Linux; no dependency): the
    services run as processes of their own, so the bench process's own rusage would not see them."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._ticks = os.sysconf("SC_CLK_TCK")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self._ticks  # utime, stime

    def peak_rss_mb(self) -> float:
        return round(_status_kib(self.pid, "VmHWM") / 1024, 1)

    def rss_mib(self) -> float:
        """Resident memory now, of the process and its descendants (a child's memory is the service's too)."""
        return round(sum(_status_kib(pid, "VmRSS") for pid in _self_and_descendants(self.pid)) / 1024, 1)


def _status_kib(pid: int, field: str) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except FileNotFoundError:  # a child that ended between listing and reading
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith(f"{field}:")), 0)


def _self_and_descendants(pid: int) -> list[int]:
    out, pending = [], [pid]
    while pending:
        current = pending.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending.extend(int(child) for child in task.read_text().split())
            except FileNotFoundError:
                continue
    return out


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def own_peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


async def start_service(module: str, env: dict[str, str], *, port: int) -> asyncio.subprocess.Process:
    """``python -m <module>`` with `env`, once its ``/readyz`` answers 200 on `port`."""
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", module, cwd=REPO, env={**os.environ, **env})
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.returncode is None:
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    if process.returncode is None:
        process.kill()
    raise RuntimeError(f"{module} did not become ready on port {port}")


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.started
