"""The four services as real processes (``python -m services.<name>``), on free ports, with topics
and schemas of their own, and the ``orchard`` console script pointed at them: what a user of the CLI
has, on the real broker and database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.infra import REPO, Infra, free_port

SERVICES = ("ingest", "health", "renewals", "expansion")
TOPICS = ("RAW", "USAGE", "INTERACTION", "CONTRACT", "DLQ", "ACCOUNT_HEALTH", "CHURN_RISK", "UPSELL")
ADMIN_KEY, READER_KEY, INGEST_KEY = "cli-admin-key", "cli-reader-key", "cli-ingest-key"
API_KEYS = {ADMIN_KEY: ["ingest:write", "read", "write"], READER_KEY: ["read"], INGEST_KEY: ["ingest:write"]}
ORCHARD = Path(sys.executable).with_name("orchard")


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Stack:
    infra: Infra
    unique: str
    ports: dict[str, int]
    logs: Path

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def topic(self, name: str) -> str:
        return f"cli.{name.lower()}.{self.unique}"

    def schema(self, service: str) -> str:
        return f"cli_{service}_{self.unique}"

    def service_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ORCHARD_KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
            "ORCHARD_DATABASE_URL": self.infra.database_url,
            "ORCHARD_API_KEYS": json.dumps(API_KEYS),
            "ORCHARD_TOPIC_PARTITIONS": "3",
            "ORCHARD_HEALTH_RESCORE_INTERVAL_S": "10",
            "ORCHARD_HEALTH_MIDNIGHT_GRACE_S": "0",
            "ORCHARD_HEALTH_STREAM_QUIET_S": "5",
            "ORCHARD_LOG_LEVEL": "WARNING",
            **{f"ORCHARD_{s.upper()}_PORT": str(p) for s, p in self.ports.items()},
            **{f"ORCHARD_{s.upper()}_SCHEMA": self.schema(s) for s in SERVICES},
            **{f"ORCHARD_TOPIC_{t}": self.topic(t) for t in TOPICS},
        }

    def cli_env(self, api_key: str | None = ADMIN_KEY) -> dict[str, str]:
        """What a user's shell would hold: where the services and Kafka are, and a key."""
        env = {k: v for k, v in self.service_env().items() if k not in ("ORCHARD_API_KEYS", "ORCHARD_API_KEY")}
        env["COLUMNS"] = "200"  # Rich tables as wide as a terminal, so that assertions see whole cells
        if api_key is not None:
            env["ORCHARD_API_KEY"] = api_key
        return env

    def orchard(self, *args: str, api_key: str | None = ADMIN_KEY, timeout: float = 120,
                env: dict[str, str] | None = None) -> Done:
        """Run the installed ``orchard`` console script, as a user would."""
        assert ORCHARD.exists(), f"{ORCHARD} is missing: `make install` installs the console script"
        done = subprocess.run([str(ORCHARD), *args], env={**self.cli_env(api_key), **(env or {})}, cwd=REPO,
                              capture_output=True, text=True, timeout=timeout)
        return Done(done.returncode, done.stdout, done.stderr)

    def feed(self, events: list[dict[str, Any]], folder: Path) -> dict[str, Any]:
        """Send events with ``orchard send`` (a JSONL file), expecting every one accepted."""
        path = folder / f"feed-{len(list(folder.glob('feed-*')))}.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        done = self.orchard("send", str(path), "--json")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        summary: dict[str, Any] = done.json()
        return summary

    def popen(self, *args: str, api_key: str | None = ADMIN_KEY) -> subprocess.Popen[str]:
        return subprocess.Popen([str(ORCHARD), *args], env=self.cli_env(api_key), cwd=REPO, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def get(self, service: str, path: str, **params: Any) -> httpx.Response:
        return httpx.get(self.url(service) + path, params=params, timeout=30,
                         headers={"Authorization": f"Bearer {ADMIN_KEY}"})

    def wait(self, what: str, predicate: Any, *, timeout: float = 120) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; service logs in {self.logs}")

    def scored(self, account_id: str, *, timeout: float = 120) -> dict[str, Any]:
        def health() -> dict[str, Any] | None:
            reply = self.get("health", f"/v1/accounts/{account_id}/health")
            return reply.json() if reply.status_code == 200 else None

        found: dict[str, Any] = self.wait(f"health to score {account_id}", health, timeout=timeout)
        return found


def ending_today(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same events moved in time so that the last one happened an hour ago: a story the health
    scheduler, which scores at the present, sees as current rather than months silent."""
    last = max(datetime.fromisoformat(e["occurred_at"]) for e in events)
    shift = datetime.now(UTC) - timedelta(hours=1) - last
    return [{**e, "occurred_at": (datetime.fromisoformat(e["occurred_at"]) + shift).isoformat()} for e in events]


@contextmanager
def running_stack(infra: Infra, unique: str, logs: Path) -> Iterator[Stack]:
    stack = Stack(infra, unique, {s: free_port() for s in SERVICES}, logs)
    logs.mkdir(parents=True, exist_ok=True)
    processes = {}
    try:
        for service in SERVICES:
            log = (logs / f"{service}.log").open("wb")
            processes[service] = subprocess.Popen([sys.executable, "-m", f"services.{service}"], cwd=REPO,
                                                  env=stack.service_env(), stdout=log, stderr=subprocess.STDOUT)
        for service in SERVICES:
            def ready(service: str = service) -> bool:
                assert processes[service].poll() is None, f"{service} exited; see {logs / service}.log"
                try:
                    return httpx.get(stack.url(service) + "/readyz", timeout=5).status_code == 200
                except httpx.TransportError:
                    return False

            stack.wait(f"{service} to be ready", ready, timeout=120)
        yield stack
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                process.kill()
