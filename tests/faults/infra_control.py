"""A private Kafka broker and PostgreSQL for fault tests that stop and start them, on ports and in a
data folder of their own (the shared ones are never touched): ``deploy/local/infra.py`` driven one
component at a time.

    python -m tests.faults.infra_control kafka|postgres up|down   (with ORCHARD_KAFKA_PORT,
    ORCHARD_PG_PORT and ORCHARD_DATA_DIR set, as for infra.py)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.infra import REPO, Infra, free_port

LAUNCHER = REPO / "deploy" / "local" / "infra.py"


@dataclass(frozen=True)
class PrivateInfra:
    infra: Infra
    env: dict[str, str]

    def _run(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "tests.faults.infra_control", *args], env=self.env, check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL, timeout=180)

    def stop_kafka(self) -> None:
        self._run("kafka", "down")

    def start_kafka(self) -> None:
        self._run("kafka", "up")

    def stop_postgres(self) -> None:
        """A fast shutdown: open transactions are rolled back and their connections cut."""
        self._run("postgres", "down")

    def start_postgres(self) -> None:
        self._run("postgres", "up")


def _kafka_ports() -> int:
    """A free port whose successor (the KRaft controller's) is free too."""
    for _ in range(50):
        port = free_port()
        if port < 65535:
            try:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no two consecutive free ports")


@contextmanager
def private_infra(unique: str) -> Iterator[PrivateInfra]:
    data = REPO / ".data" / f"faults-{unique}"
    env = {**os.environ, "ORCHARD_KAFKA_PORT": str(_kafka_ports()), "ORCHARD_PG_PORT": str(free_port()),
           "ORCHARD_DATA_DIR": str(data)}
    subprocess.run([sys.executable, str(LAUNCHER), "up"], env=env, check=True, cwd=REPO,
                   stdout=subprocess.DEVNULL, timeout=600)
    try:
        out = subprocess.run([sys.executable, str(LAUNCHER), "env"], env=env, check=True, capture_output=True,
                             text=True, cwd=REPO)
        values = dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines()
                      if line.startswith("export "))
        yield PrivateInfra(Infra(values["ORCHARD_KAFKA_BOOTSTRAP"], values["ORCHARD_DATABASE_URL"], "private"), env)
    finally:
        subprocess.run([sys.executable, str(LAUNCHER), "down"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                       timeout=180)
        shutil.rmtree(data, ignore_errors=True)


def main(component: str, action: str) -> None:
    sys.path.insert(0, str(LAUNCHER.parent))
    import infra  # deploy/local/infra.py: standard library only

    cfg = infra.Config()
    step = {("kafka", "up"): infra.kafka_up, ("kafka", "down"): infra.kafka_down,
            ("postgres", "up"): infra.pg_up, ("postgres", "down"): infra.pg_down}[component, action]
    with infra.locked(cfg):
        step(cfg)


if __name__ == "__main__":
    main(*sys.argv[1:3])
