"""Services as real processes (``python -m services.<name>``) that a fault test can start, SIGKILL,
stop and start again one by one, each with its own settings; topics and schemas named per test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.infra import REPO, Infra, free_port

API_KEYS = {"faults-admin-key": ["ingest:write", "read", "write"]}
AUTH = {"Authorization": "Bearer faults-admin-key"}
READY_TIMEOUT_S = 120.0


@dataclass
class ServiceProcess:
    """One service process: started, killed and started again with the same settings."""

    service: str
    env: dict[str, str]
    logs: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, f"{self.service} is already running"
        self.logs.mkdir(parents=True, exist_ok=True)
        # Each start appends to the same log, so a failure shows the lives before it.
        with (self.logs / f"{self.service}.log").open("ab") as log:
            log.write(f"\n===== start {self.starts + 1} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen([sys.executable, "-m", f"services.{self.service}"], cwd=REPO,
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pause(self) -> None:
        """SIGSTOP: a process stuck as a whole (no heartbeat, no poll) until `resume`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: no batch finished, no offset committed, no outbox drained."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.kills += 1

    def stop(self) -> None:
        """SIGTERM, as an operator's stop; SIGKILL if it does not leave in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def ready(self) -> bool:
        assert self.alive(), f"{self.service} exited; see {self.logs / self.service}.log"
        try:
            return httpx.get(self.url + "/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        wait_until(f"{self.service} to be ready", self.ready, timeout=timeout, logs=self.logs)


def wait_until(what: str, predicate: object, *, timeout: float, logs: Path | None = None, every: float = 0.5) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    where = f"; service logs in {logs}" if logs else ""
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{where}")


@dataclass
class Deployment:
    """A set of service processes sharing one broker, one database and one set of topic names."""

    infra: Infra
    unique: str
    logs: Path
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per service, settings of its own (``ORCHARD_*``), over the common ones."""
    processes: dict[str, ServiceProcess] = field(default_factory=dict)

    def topic(self, name: str) -> str:
        return f"faults.{name.lower()}.{self.unique}"

    def schema(self, service: str) -> str:
        return f"faults_{service}_{self.unique}"

    def common_env(self) -> dict[str, str]:
        topics = ("RAW", "USAGE", "INTERACTION", "CONTRACT", "DLQ", "ACCOUNT_HEALTH", "CHURN_RISK", "UPSELL",
                  "OUTBOX_PROGRESS")
        return {
            **os.environ,
            "ORCHARD_KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
            "ORCHARD_DATABASE_URL": self.infra.database_url,
            "ORCHARD_API_KEYS": json.dumps(API_KEYS),
            "ORCHARD_TOPIC_PARTITIONS": "3",
            "ORCHARD_LOG_LEVEL": "WARNING",
            "ORCHARD_CONSUMER_RETRY_BACKOFF_MAX_S": "2",
            **{f"ORCHARD_TOPIC_{t}": self.topic(t) for t in topics},
        }

    def add(self, service: str, *, name: str | None = None, **settings: str) -> ServiceProcess:
        """Declare a process of `service` (under `name`, default the service) with extra settings."""
        name = name or service
        port = free_port()
        env = {**self.common_env(), f"ORCHARD_{service.upper()}_PORT": str(port),
               f"ORCHARD_{service.upper()}_SCHEMA": self.schema(name), **settings}
        process = ServiceProcess(service, env, self.logs / name, port)
        self.processes[name] = process
        return process

    def twin(self, name: str, *, of: str) -> ServiceProcess:
        """A second instance of process `of`: the same settings (so the same schema and consumer group),
        a port and a log of its own."""
        first = self.processes[of]
        port = free_port()
        process = ServiceProcess(first.service, {**first.env, f"ORCHARD_{first.service.upper()}_PORT": str(port)},
                                 self.logs / name, port)
        self.processes[name] = process
        return process

    def schemas(self) -> list[str]:
        """Each schema once (twins share theirs)."""
        return sorted({p.env[f"ORCHARD_{p.service.upper()}_SCHEMA"] for p in self.processes.values()})

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.processes[name]

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.alive():
                assert process.process is not None
                process.process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            process.stop()
