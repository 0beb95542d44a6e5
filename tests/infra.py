"""Where the tests' Kafka and Postgres come from, in this order:

1. ``ORCHARD_KAFKA_BOOTSTRAP`` and ``ORCHARD_DATABASE_URL`` from the environment;
2. testcontainers, when a Docker engine answers;
3. the project's local launcher (``deploy/local/infra.py up``), which needs no Docker.
"""

from __future__ import annotations

import os
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
