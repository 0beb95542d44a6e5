"""Processes, pids, logs and packages: what both servers' start and stop need from the machine."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from .config import HOST, Config, InfraError, say


def is_root() -> bool:
    return os.geteuid() == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (our own child, not yet reaped) counts as dead
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [p.decode(errors="replace") for p in f.read().split(b"\0") if p]
    except OSError:
        return []


def port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode(errors="replace")
    except OSError:
        return f"  ({path} does not exist)"
    got = data.splitlines()[-lines:]
    return "\n".join("  | " + line for line in got) if got else f"  ({path} is empty)"


MARKER = "==== infra.py starting"


def tail_since_marker(path: Path, lines: int = 40) -> str:
    """The end of a log, from the last start marker infra.py wrote into it on."""
    text = tail(path, 400)
    got = text.splitlines()
    idx = max((i for i, line in enumerate(got) if MARKER in line), default=0)
    return "\n".join(got[idx:][-lines:])


def run(
    cmd: list[str],
    *,
    user: str | None = None,
    check: bool = True,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    uid, gid, groups = as_user(user)
    if user is not None:
        env = dict(env or os.environ, HOME="/", USER=user, LOGNAME=user)
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd="/",
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
        user=uid,
        group=gid,
        extra_groups=groups,
    )
    if check and proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip()
        raise InfraError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{out}")
    return proc


def as_user(user: str | None) -> tuple[int | None, int | None, list[int] | None]:
    """(user, group, extra_groups) arguments for subprocess: run as `user`, or as ourselves for None."""
    if user is None:
        return None, None, None
    pw = pwd.getpwnam(user)
    return pw.pw_uid, pw.pw_gid, []


_apt_updated = False
_apt_lock = threading.Lock()


def apt_install(packages: list[str], why: str) -> None:
    """Install Debian packages (root only); the services they ship are not started."""
    with _apt_lock:  # Kafka's and PostgreSQL's set-up run in parallel; dpkg takes one at a time
        _apt_install(packages, why)


def _apt_install(packages: list[str], why: str) -> None:
    global _apt_updated
    if not is_root() or not shutil.which("apt-get"):
        raise InfraError(
            f"{why}; install {' '.join(packages)} (this script installs them itself only "
            "when it runs as root on a Debian/Ubuntu machine)"
        )
    say("setup", f"{why}: apt-get install {' '.join(packages)} ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # Keep package scripts from starting system services (e.g. Debian's own 'main' PostgreSQL cluster).
    policy = Path("/usr/sbin/policy-rc.d")
    made_policy = False
    if not policy.exists():
        policy.write_text("#!/bin/sh\n# temporary, written by Orchard's deploy/local/infra.py\nexit 101\n")
        policy.chmod(0o755)
        made_policy = True
    try:
        if not _apt_updated:
            run(["apt-get", "update", "-q"], env=env, timeout=600)
            _apt_updated = True
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], env=env, timeout=1200)
    finally:
        if made_policy:
            policy.unlink(missing_ok=True)


@contextlib.contextmanager
def locked(cfg: Config) -> Iterator[None]:
    """One infra.py at a time per data dir (two `make up` in parallel must not both start servers)."""
    cfg.run.mkdir(parents=True, exist_ok=True)
    with open(cfg.run / "infra.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("infra", "another infra.py is running for this data dir; waiting for it ...")
            fcntl.flock(f, fcntl.LOCK_EX)
        yield




def stop_pid(pid: int, name: str, timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    say(name, f"pid {pid} still running {timeout:.0f}s after SIGTERM; sending SIGKILL")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        if not pid_alive(pid):
            return
        time.sleep(0.1)


