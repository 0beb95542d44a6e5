"""PostgreSQL's prerequisites: the server binaries, the unprivileged user it runs as, where PGDATA and
the socket live, and what a data dir already holds (version, running postmaster)."""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

from .config import Config, InfraError, say
from .processes import apt_install, as_user, cmdline, is_root, pid_alive, run


def find_pg_bin(major: str | None = None) -> Path | None:
    """A PostgreSQL bin directory: ORCHARD_PG_BIN, else the one matching `major` (the version an
    existing cluster was made with), else the newest found."""
    override = os.environ.get("ORCHARD_PG_BIN")
    if override:
        p = Path(override)
        if not (p / "pg_ctl").exists():
            raise InfraError(f"ORCHARD_PG_BIN={override} has no pg_ctl")
        return p
    candidates = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):  # Debian/Ubuntu, newest first
        m = re.search(r"/postgresql/(\d+)/", initdb)
        candidates.append((int(m.group(1)) if m else 0, Path(initdb).parent))
    candidates.sort(key=lambda c: (str(c[0]) == major, c[0]), reverse=True)
    dirs = [d for _, d in candidates]
    dirs += [Path(p).parent for p in glob.glob("/usr/pgsql-*/bin/initdb")]  # RHEL PGDG
    on_path = shutil.which("initdb")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    dirs.append(Path("/usr/local/pgsql/bin"))
    for d in dirs:
        if all((d / x).exists() for x in ("initdb", "pg_ctl", "postgres", "pg_isready", "psql")):
            return d
    return None


def ensure_pg_bin(major: str | None = None) -> Path:
    d = find_pg_bin(major)
    if d is None:
        apt_install(["postgresql"], "no PostgreSQL server binaries found")
        d = find_pg_bin(major)
        if d is None:
            raise InfraError("PostgreSQL server binaries still not found after installing 'postgresql'")
    return d


def ensure_pg_user(cfg: Config) -> str | None:
    """The user the server runs as: None = this user (non-root), else an unprivileged system user."""
    if not is_root():
        return None
    try:
        pwd.getpwnam(cfg.pg_user)
    except KeyError:
        say(
            "postgres",
            f"creating unprivileged system user '{cfg.pg_user}' (PostgreSQL refuses to run as root)",
        )
        run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                cfg.pg_user,
            ]
        )
    return cfg.pg_user


def pg_data_dir(cfg: Config, user: str | None, create: bool) -> Path | None:
    """PGDATA: <data>/postgres, or /var/tmp/orchard-<hash>/postgres behind a symlink when the server's
    user cannot reach <data> (a repo under /root, which is 0700, say)."""
    link = cfg.pg_link
    if link.is_symlink():
        target = Path(os.readlink(link))
        if target.exists() or create:
            if create and not target.exists():
                say("postgres", f"{link} points to {target}, which is gone: making a new, empty cluster there")
                _make_outside_pgdata(cfg, user, target)
            return target
        return None
    if link.exists():
        return link
    if not create:
        return None
    if user is not None and not can_traverse_parent(cfg, user):
        target = cfg.pg_outside / "postgres"
        say(
            "postgres",
            f"user '{user}' cannot reach {cfg.data_dir} (a parent directory is private); "
            f"keeping PGDATA in {target}, symlinked from {link}",
        )
        _make_outside_pgdata(cfg, user, target)
        link.symlink_to(target)
        return target
    link.mkdir(mode=0o700)
    if user is not None:
        pw = pwd.getpwnam(user)
        os.chown(link, pw.pw_uid, pw.pw_gid)
    return link


def can_traverse_parent(cfg: Config, user: str) -> bool:
    # the server needs to reach <data>/postgres: x on every ancestor of <data>, incl. <data> itself
    uid, gid, groups = as_user(user)
    proc = subprocess.run(
        ["test", "-x", str(cfg.data_dir)],
        user=uid,
        group=gid,
        extra_groups=groups,
        cwd="/",
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    return proc.returncode == 0


def _make_outside_pgdata(cfg: Config, user: str | None, target: Path) -> None:
    target.parent.mkdir(mode=0o700, exist_ok=True)
    target.mkdir(mode=0o700, exist_ok=True)
    if user is not None:
        pw = pwd.getpwnam(user)
        for p in (target.parent, target):
            os.chown(p, pw.pw_uid, pw.pw_gid)


def pg_socket_dir(cfg: Config, pgdata: Path, user: str | None) -> Path:
    # Unix socket paths are limited to ~107 bytes; keep it in PGDATA unless that is too deep
    if len(str(pgdata / f".s.PGSQL.{cfg.pg_port}.lock")) < 100:
        return pgdata
    d = Path("/tmp") / f"orchard-{cfg.tag}"
    d.mkdir(mode=0o700, exist_ok=True)
    if user is not None:
        pw = pwd.getpwnam(user)
        os.chown(d, pw.pw_uid, pw.pw_gid)
    return d


def pg_major(pgdata: Path | None) -> str | None:
    try:
        return (pgdata / "PG_VERSION").read_text().strip() if pgdata else None
    except OSError:
        return None


def pg_initialized(pgdata: Path) -> bool:
    return (pgdata / "PG_VERSION").is_file()


def pg_running_pid(pgdata: Path | None) -> int | None:
    if pgdata is None:
        return None
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    if pid_alive(pid) and any("postgres" in a for a in cmdline(pid)[:1]):
        return pid
    return None


