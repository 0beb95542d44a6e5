#!/usr/bin/env python3
"""Orchard's local infrastructure: a real single-node Kafka broker (KRaft) and a real PostgreSQL.

No Docker needed. Kafka runs from Maven Central jars (deploy/local/kafka/pom.xml), PostgreSQL from
the machine's server binaries (Debian's `postgresql` package, installed on demand when run as root).
Both run as ordinary background processes that outlive this script.

    python3 deploy/local/infra.py up       # start both (fetch/install/format/initdb as needed); idempotent
    python3 deploy/local/infra.py down     # stop both, keep the data
    python3 deploy/local/infra.py status   # exit 0 only if both are running and answering
    python3 deploy/local/infra.py env      # export lines: eval "$(python3 deploy/local/infra.py env)"
    python3 deploy/local/infra.py reset    # down, then delete the data

Environment (defaults): ORCHARD_KAFKA_PORT (9092; the KRaft controller listens on port + 1),
ORCHARD_PG_PORT (5433), ORCHARD_DATA_DIR (<repo>/.data), ORCHARD_PG_BIN (a PostgreSQL bin directory,
found automatically), ORCHARD_PG_USER (the unprivileged system user PostgreSQL runs as when this
script runs as root: orchard).

Data layout under the data dir: kafka/ (server.properties, data/ = log.dirs), postgres/ (PGDATA, or a
symlink to /var/tmp/orchard-<hash>/postgres when the PostgreSQL user cannot reach the data dir),
logs/ (kafka.log, kafka.out, postgres.log, kafka-storage.log), run/ (kafka.pid, lock).

Standard library only: this runs before any virtualenv exists. The pieces are in launcher/: config
(ports, paths, sizes), processes (pids, logs, packages), kafka and kafka_probe, postgres_setup and
postgres, cli (the commands).
"""

from __future__ import annotations

import sys
from pathlib import Path

# The pieces import as `launcher` from this file's folder; put it on sys.path even where Python does
# not (python -I, PYTHONSAFEPATH), as the one-file launcher needed nothing of the kind.
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Config, the four steps and the lock are re-exported for tests/faults/infra_control.py, which drives
# one component at a time.
from launcher.cli import main
from launcher.config import Config
from launcher.kafka import kafka_down, kafka_up
from launcher.postgres import pg_down, pg_up
from launcher.processes import locked

__all__ = ["Config", "kafka_down", "kafka_up", "locked", "main", "pg_down", "pg_up"]

if __name__ == "__main__":
    sys.exit(main())
