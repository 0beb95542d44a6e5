"""Where everything lives and the ports and sizes used: one `Config` per data dir, read from the
environment, and the launcher's one way of printing and failing."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]  # deploy/local
REPO = HERE.parent.parent
KAFKA_HOME = HERE / "kafka"
KAFKA_LIB = KAFKA_HOME / "lib"
KAFKA_POM = KAFKA_HOME / "pom.xml"
KAFKA_LOG4J = KAFKA_HOME / "log4j2.xml"

HOST = "127.0.0.1"
KAFKA_NODE_ID = 1
DB_NAME = "orchard"
DB_ROLE = "orchard"

KAFKA_READY_TIMEOUT = float(os.environ.get("ORCHARD_KAFKA_READY_TIMEOUT", "120"))
PG_READY_TIMEOUT = float(os.environ.get("ORCHARD_PG_READY_TIMEOUT", "60"))
KAFKA_STOP_TIMEOUT = 30.0

KAFKA_HEAP = ["-Xms256m", "-Xmx512m"]
KAFKA_JVM_OPTS = [
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
]
TOOL_JVM_OPTS = ["-Xmx256m", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true"]


class InfraError(Exception):
    pass


_print_lock = threading.Lock()


def say(component: str, msg: str) -> None:
    with _print_lock:
        print(f"[{component}] {msg}", flush=True)




class Config:
    def __init__(self) -> None:
        self.kafka_port = _port("ORCHARD_KAFKA_PORT", 9092)
        self.controller_port = self.kafka_port + 1
        self.pg_port = _port("ORCHARD_PG_PORT", 5433)
        data = os.environ.get("ORCHARD_DATA_DIR") or str(REPO / ".data")
        self.data_dir = Path(data).expanduser().absolute()
        self.kafka_dir = self.data_dir / "kafka"
        self.kafka_log_dirs = self.kafka_dir / "data"
        self.kafka_props = self.kafka_dir / "server.properties"
        self.pg_link = self.data_dir / "postgres"
        self.logs = self.data_dir / "logs"
        self.run = self.data_dir / "run"
        self.kafka_pidfile = self.run / "kafka.pid"
        self.kafka_log = self.logs / "kafka.log"
        self.kafka_out = self.logs / "kafka.out"
        self.kafka_tool_log = self.logs / "kafka-storage.log"
        self.pg_log = self.logs / "postgres.log"
        # a short, stable name for things that must live outside the data dir
        self.tag = hashlib.sha1(str(self.data_dir).encode()).hexdigest()[:10]
        self.pg_outside = Path("/var/tmp") / f"orchard-{self.tag}"
        self.pg_user = os.environ.get("ORCHARD_PG_USER", "orchard")

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.kafka_port}"

    @property
    def database_url(self) -> str:
        return f"postgresql+asyncpg://{DB_ROLE}@{HOST}:{self.pg_port}/{DB_NAME}"


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise InfraError(f"{name}={raw!r} is not a port number") from None
    if not 1 <= port <= 65534:
        raise InfraError(f"{name}={port} is out of range")
    return port


