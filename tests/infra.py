"""Where the tests' Kafka and Postgres come from, in this order:

1. ``ORCHARD_KAFKA_BOOTSTRAP`` and ``ORCHARD_DATABASE_URL`` from the environment;
2. testcontainers, when a Docker engine answers;
3. the project's local launcher (``deploy/local/infra.py up``), which needs no Docker.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    database_url: str
    origin: str


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@contextmanager
def _containers() -> Iterator[Infra]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as kafka, PostgresContainer(
        "postgres:16", driver="asyncpg"
    ) as pg:
        yield Infra(kafka.get_bootstrap_server(), pg.get_connection_url(), "testcontainers")


def _local_launcher() -> Infra:
    launcher = REPO / "deploy" / "local" / "infra.py"
    subprocess.run([sys.executable, str(launcher), "up"], check=True)
    out = subprocess.run([sys.executable, str(launcher), "env"], check=True, capture_output=True, text=True)
    values = dict(
        line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines() if line.startswith("export ")
    )
    return Infra(values["ORCHARD_KAFKA_BOOTSTRAP"], values["ORCHARD_DATABASE_URL"], "local launcher")


@contextmanager
def provide_infra() -> Iterator[Infra]:
    bootstrap = os.environ.get("ORCHARD_KAFKA_BOOTSTRAP")
    dsn = os.environ.get("ORCHARD_DATABASE_URL")
    if bootstrap and dsn:
        yield Infra(bootstrap, dsn, "environment")
    elif _docker_answers():
        with _containers() as infra:
            yield infra
    else:
        yield _local_launcher()


_BELOW_EPHEMERAL = range(20_000, 32_000)
"""Where `free_port` looks: below Linux's default ephemeral range (32768-60999)."""


def free_port(preferred: int | None = None) -> int:
    """A local TCP port nothing is bound to, for a process a test or bench starts: `preferred` if it is free,
    else one at random below the kernel's ephemeral range. Not a port the kernel picks for bind(0): it picks
    those from the range it also hands out as the source ports of outgoing connections, and between the
    probe and the service's own bind one of the many Kafka and Postgres clients of a run could take it (a
    fault test's service once died on "address already in use" that way)."""
    candidates = [preferred] if preferred else []
    candidates += random.sample(_BELOW_EPHEMERAL, 50)
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port among {candidates}")
