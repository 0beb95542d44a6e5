"""The commands: up, down, status, env, reset (Kafka's step in a thread beside PostgreSQL's)."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from .config import HOST, Config, InfraError, say
from .kafka import kafka_down, kafka_pid, kafka_up
from .kafka_probe import kafka_probe
from .postgres import pg_down, pg_ready, pg_up
from .postgres_setup import find_pg_bin, pg_data_dir, pg_running_pid
from .processes import locked


def both(kafka_step: Callable[[], None], pg_step: Callable[[], None]) -> bool:
    """Run the Kafka step in a thread and the PostgreSQL step here (Kafka is the slow one); report
    every failure. True when both succeeded."""
    errors: list[BaseException] = []

    def guarded(step: Callable[[], None]) -> None:
        try:
            step()
        except BaseException as exc:  # reported below, after both steps are done
            errors.append(exc)

    th = threading.Thread(target=guarded, args=(kafka_step,), name="kafka")
    th.start()
    guarded(pg_step)
    th.join()
    for exc in errors:
        if isinstance(exc, InfraError):
            print(f"\nERROR: {exc}", file=sys.stderr)
        elif isinstance(exc, KeyboardInterrupt):
            print("\ninterrupted", file=sys.stderr)
        else:
            traceback.print_exception(exc, file=sys.stderr)
    return not errors


def cmd_up(cfg: Config) -> int:
    t0 = time.monotonic()
    with locked(cfg):
        if not both(lambda: kafka_up(cfg), lambda: pg_up(cfg)):
            return 1
    print(
        f"\nup in {time.monotonic() - t0:.1f}s -- Kafka {cfg.bootstrap}, PostgreSQL {HOST}:{cfg.pg_port} "
        f"(data in {cfg.data_dir}, logs in {cfg.logs})"
    )
    print(f"  export ORCHARD_KAFKA_BOOTSTRAP={cfg.bootstrap}")
    print(f"  export ORCHARD_DATABASE_URL={cfg.database_url}")
    return 0


def cmd_down(cfg: Config) -> int:
    if not cfg.data_dir.exists():
        say("infra", f"nothing to stop ({cfg.data_dir} does not exist)")
        return 0
    with locked(cfg):
        return 0 if both(lambda: kafka_down(cfg), lambda: pg_down(cfg)) else 1


def cmd_status(cfg: Config) -> int:
    ok = True
    pid = kafka_pid(cfg)
    if pid is None:
        print(f"kafka:    stopped (data {cfg.kafka_dir})")
        ok = False
    else:
        ready, detail = kafka_probe(cfg.kafka_port)
        state = "running, ready" if ready else f"running, NOT answering ({detail})"
        print(f"kafka:    {state} (pid {pid}) on {cfg.bootstrap}")
        ok &= ready
    pgdata = pg_data_dir(cfg, None, create=False)
    ppid = pg_running_pid(pgdata)
    if ppid is None:
        print(f"postgres: stopped (data {pgdata or cfg.pg_link})")
        ok = False
    else:
        bindir = find_pg_bin()
        ready = bindir is not None and pg_ready(cfg, bindir)
        state = "running, ready" if ready else "running, NOT answering"
        print(f"postgres: {state} (pid {ppid}) on {HOST}:{cfg.pg_port}, data {pgdata}")
        ok &= ready
    return 0 if ok else 3


def cmd_env(cfg: Config) -> int:
    print(f"export ORCHARD_KAFKA_BOOTSTRAP={cfg.bootstrap}")
    print(f"export ORCHARD_DATABASE_URL={cfg.database_url}")
    return 0


def cmd_reset(cfg: Config) -> int:
    rc = cmd_down(cfg)
    if rc != 0:
        print("ERROR: not deleting data while something is still running", file=sys.stderr)
        return rc
    with locked(cfg):
        # Delete only what this script creates, so a mistaken ORCHARD_DATA_DIR cannot wipe anything else.
        if cfg.pg_link.is_symlink():
            target = Path(os.readlink(cfg.pg_link))
            if target.parent.name.startswith("orchard-"):
                shutil.rmtree(target.parent, ignore_errors=True)
            cfg.pg_link.unlink()
        for sub in (cfg.kafka_dir, cfg.pg_link, cfg.logs):
            if sub.exists():
                shutil.rmtree(sub)
        shutil.rmtree(Path("/tmp") / f"orchard-{cfg.tag}", ignore_errors=True)
    shutil.rmtree(cfg.run, ignore_errors=True)
    with contextlib.suppress(OSError):
        cfg.data_dir.rmdir()  # only if empty
    say("infra", f"deleted the data in {cfg.data_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="infra.py",
        description="Local Kafka (KRaft) + PostgreSQL for Orchard, without Docker.",
        epilog="Environment: ORCHARD_KAFKA_PORT (9092), ORCHARD_PG_PORT (5433), ORCHARD_DATA_DIR (<repo>/.data).",
    )
    parser.add_argument("command", choices=["up", "down", "status", "env", "reset"])
    args = parser.parse_args(argv)
    try:
        cfg = Config()
        return {"up": cmd_up, "down": cmd_down, "status": cmd_status, "env": cmd_env, "reset": cmd_reset}[args.command](
            cfg
        )
    except InfraError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
