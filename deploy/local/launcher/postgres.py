"""PostgreSQL: initdb, start, readiness, the `orchard` database, and stop."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import signal
import subprocess
import time
from pathlib import Path

from .config import DB_NAME, DB_ROLE, HOST, PG_READY_TIMEOUT, Config, InfraError, say
from .postgres_setup import (
    ensure_pg_bin,
    ensure_pg_user,
    find_pg_bin,
    pg_data_dir,
    pg_initialized,
    pg_major,
    pg_running_pid,
    pg_socket_dir,
)
from .processes import MARKER, as_user, is_root, pid_alive, port_open, run, tail_since_marker


def pg_ready(cfg: Config, bindir: Path, db: str = DB_NAME) -> bool:
    proc = subprocess.run(
        [
            str(bindir / "pg_isready"),
            "-q",
            "-h",
            HOST,
            "-p",
            str(cfg.pg_port),
            "-U",
            DB_ROLE,
            "-d",
            db,
            "-t",
            "2",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    return proc.returncode == 0


def psql(cfg: Config, bindir: Path, sql: str, db: str = DB_NAME) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PGCONNECT_TIMEOUT="5")
    env.pop("PGPASSWORD", None)
    return subprocess.run(
        [
            str(bindir / "psql"),
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            HOST,
            "-p",
            str(cfg.pg_port),
            "-U",
            DB_ROLE,
            "-d",
            db,
            "-c",
            sql,
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=30,
    )


PG_CONF = """
# ---- added by deploy/local/infra.py (port, listen address and socket dir are given on the command line)
shared_buffers = 256MB
max_connections = 200
# durability stays at PostgreSQL's defaults (fsync = on, synchronous_commit = on, full_page_writes = on)
log_min_messages = warning
log_connections = off
log_disconnections = off
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
"""


def pg_up(cfg: Config) -> None:
    t0 = time.monotonic()
    user = ensure_pg_user(cfg)
    for d in (cfg.data_dir, cfg.logs, cfg.run):
        d.mkdir(parents=True, exist_ok=True)
    existing = pg_data_dir(cfg, user, create=False)
    major = pg_major(existing)
    bindir = ensure_pg_bin(major)
    if major:
        have = run([str(bindir / "postgres"), "-V"], check=False).stdout
        m = re.search(r"(\d+)(?:\.\d+)?", have)
        if m and m.group(1) != major:
            raise InfraError(
                f"the cluster in {existing} was made by PostgreSQL {major}, but the server found is "
                f"{have.strip()} ({bindir}); install PostgreSQL {major}, set ORCHARD_PG_BIN, or "
                "`infra.py reset` to start over"
            )
    pid = pg_running_pid(existing)
    if pid is not None and existing is not None:
        if not _wait_pg_answers(cfg, bindir, pid):
            raise InfraError(
                f"PostgreSQL (pid {pid}, data {existing}) is running but does not answer on "
                f"{HOST}:{cfg.pg_port} (started with another ORCHARD_PG_PORT?). "
                f"Run `infra.py down` first.\n{cfg.pg_log}:\n{tail_since_marker(cfg.pg_log, 20)}"
            )
        pg_ensure_db(cfg, bindir)
        say("postgres", f"already running (pid {pid}) on {HOST}:{cfg.pg_port}, data {existing}")
        return
    if port_open(cfg.pg_port):
        raise InfraError(
            f"port {HOST}:{cfg.pg_port} is already in use by another process (not this data dir's "
            f"PostgreSQL). Stop it, or choose another port with ORCHARD_PG_PORT."
        )
    pgdata = pg_data_dir(cfg, user, create=True)
    assert pgdata is not None
    if not pg_initialized(pgdata):
        if any(pgdata.iterdir()):
            raise InfraError(
                f"{pgdata} is not empty but holds no PostgreSQL cluster (no PG_VERSION); "
                "move it away or run `infra.py reset`"
            )
        say("postgres", f"initdb {pgdata} ({bindir}) ...")
        run(
            [
                str(bindir / "initdb"),
                "-D",
                str(pgdata),
                "--no-locale",
                "-E",
                "UTF8",
                "--auth=trust",
                "-U",
                DB_ROLE,
                "--no-instructions",
            ],
            user=user,
            timeout=300,
        )
        with open(pgdata / "postgresql.conf", "a") as f:
            f.write(PG_CONF)
    _wait_previous_postmaster_gone(pgdata)
    sockdir = pg_socket_dir(cfg, pgdata, user)
    opts = f"-p {cfg.pg_port} -h {HOST} -k {sockdir}"
    cmd = [
        str(bindir / "pg_ctl"),
        "start",
        "-D",
        str(pgdata),
        "-o",
        opts,
        "-w",
        "-t",
        str(int(PG_READY_TIMEOUT)),
        "-s",
    ]
    # pg_ctl without -l: the server writes to the log file we opened (so its owner does not matter)
    uid, gid, groups = as_user(user)
    env = dict(os.environ)
    if user is not None:
        env.update(HOME="/", USER=user, LOGNAME=user)
    say("postgres", f"starting on {HOST}:{cfg.pg_port} (data {pgdata}) ...")
    with open(cfg.pg_log, "ab") as log:
        log.write(f"\n{MARKER} postgres at {time.strftime('%Y-%m-%d %H:%M:%S')} ====\n".encode())
        log.flush()
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd="/",
            start_new_session=True,
            env=env,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
    if proc.returncode != 0:
        raise InfraError(
            f"PostgreSQL did not start (pg_ctl exit {proc.returncode}).\n"
            f"{cfg.pg_log}:\n{tail_since_marker(cfg.pg_log, 30)}"
        )
    deadline = time.monotonic() + PG_READY_TIMEOUT
    while not pg_ready(cfg, bindir, db="postgres"):
        if time.monotonic() > deadline:
            raise InfraError(
                f"PostgreSQL started but does not answer on {HOST}:{cfg.pg_port} within "
                f"{PG_READY_TIMEOUT:.0f}s.\n{cfg.pg_log}:\n{tail_since_marker(cfg.pg_log, 30)}"
            )
        time.sleep(0.2)
    pg_ensure_db(cfg, bindir)
    say(
        "postgres",
        f"ready on {HOST}:{cfg.pg_port} (pid {pg_running_pid(pgdata)}) after {time.monotonic() - t0:.1f}s",
    )


def _wait_previous_postmaster_gone(pgdata: Path) -> None:
    """After a crash (kill -9) the old postmaster can linger as a zombie until init reaps it, and its
    orphaned children need a moment to notice and exit. PostgreSQL refuses to start while the pid in
    postmaster.pid exists or its shared memory is still attached, so wait for both to go away."""
    if not (pgdata / "postmaster.pid").exists():
        return
    deadline = time.monotonic() + 30
    told = False
    while time.monotonic() < deadline:
        try:
            old = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return
        busy = os.path.exists(f"/proc/{old}") or _processes_in(pgdata)
        if not busy:
            return
        if not told:
            say("postgres", f"waiting for the processes of the previous server ({old}) to go away ...")
            told = True
        time.sleep(0.2)


def _processes_in(directory: Path) -> list[int]:
    """Live processes whose working directory is `directory` (PostgreSQL's processes chdir to PGDATA)."""
    want = str(directory.resolve())
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/cwd") == want:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def _wait_pg_answers(cfg: Config, bindir: Path, pid: int) -> bool:
    deadline = time.monotonic() + PG_READY_TIMEOUT
    while time.monotonic() < deadline:
        if pg_ready(cfg, bindir, db="postgres"):
            return True
        if not pid_alive(pid):
            return False
        time.sleep(0.2)
    return False


def pg_ensure_db(cfg: Config, bindir: Path) -> None:
    r = psql(cfg, bindir, f"select 1 from pg_database where datname = '{DB_NAME}'", db="postgres")
    if r.returncode != 0:
        raise InfraError(f"psql on {HOST}:{cfg.pg_port} failed: {(r.stdout + r.stderr).strip()}")
    if r.stdout.strip() != "1":
        say("postgres", f"creating database '{DB_NAME}' (owner '{DB_ROLE}')")
        r = psql(cfg, bindir, f'create database "{DB_NAME}" owner "{DB_ROLE}"', db="postgres")
        if r.returncode != 0:
            raise InfraError(f"create database failed: {(r.stdout + r.stderr).strip()}")
    r = psql(cfg, bindir, "select 1")
    if r.returncode != 0 or r.stdout.strip() != "1":
        raise InfraError(f"`select 1` on database {DB_NAME} failed: {(r.stdout + r.stderr).strip()}")


def pg_down(cfg: Config) -> None:
    pgdata = pg_data_dir(cfg, None, create=False)
    pid = pg_running_pid(pgdata)
    if pid is None or pgdata is None:
        say("postgres", "not running")
        return
    t0 = time.monotonic()
    say("postgres", f"stopping (pid {pid}, fast mode) ...")
    bindir = find_pg_bin(pg_major(pgdata))
    stopped = False
    if bindir is not None:
        st = pgdata.stat()
        user = pwd.getpwuid(st.st_uid).pw_name if is_root() and st.st_uid != 0 else None
        try:
            r = run(
                [str(bindir / "pg_ctl"), "stop", "-D", str(pgdata), "-m", "fast", "-w", "-t", "60", "-s"],
                user=user,
                check=False,
                timeout=90,
            )
            stopped = r.returncode == 0
            if not stopped:
                say("postgres", f"pg_ctl stop failed: {(r.stdout + r.stderr).strip()}")
        except subprocess.TimeoutExpired:
            pass
    if not stopped:
        # SIGINT is PostgreSQL's "fast shutdown"
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            say("postgres", "still running; sending SIGQUIT (immediate shutdown)")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
    say("postgres", f"stopped in {time.monotonic() - t0:.1f}s")


