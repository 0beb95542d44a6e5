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

Standard library only: this runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import glob
import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
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


# ----------------------------------------------------------------------------------------------
# settings


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


# ----------------------------------------------------------------------------------------------
# small helpers


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


# ----------------------------------------------------------------------------------------------
# Kafka: jars


def pom_versions() -> tuple[str, str]:
    text = KAFKA_POM.read_text()
    kafka = re.search(r"<kafka.version>([^<]+)</kafka.version>", text)
    log4j = re.search(r"<log4j.version>([^<]+)</log4j.version>", text)
    if not kafka or not log4j:
        raise InfraError(f"{KAFKA_POM}: kafka.version / log4j.version properties not found")
    return kafka.group(1).strip(), log4j.group(1).strip()


def jars_present(kafka_v: str, log4j_v: str) -> bool:
    want = [
        f"kafka_2.13-{kafka_v}.jar",
        f"kafka-clients-{kafka_v}.jar",
        f"kafka-server-{kafka_v}.jar",
        f"kafka-storage-{kafka_v}.jar",
        f"log4j-core-{log4j_v}.jar",
        f"log4j-slf4j-impl-{log4j_v}.jar",
        f"log4j-api-{log4j_v}.jar",
    ]
    return all((KAFKA_LIB / j).is_file() for j in want)


def ensure_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = (
        str(Path(java_home) / "bin" / "java")
        if java_home and (Path(java_home) / "bin/java").exists()
        else shutil.which("java")
    )
    if not java:
        apt_install(["openjdk-17-jre-headless"], "no java found (Kafka 4 needs Java 17+)")
        java = shutil.which("java")
        if not java:
            raise InfraError("java is still not on PATH after installing openjdk-17-jre-headless")
    out = run([java, "-version"], check=False)
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if m:
        major = int(m.group(1)) if m.group(1) != "1" else int(m.group(2) or 0)
        if major < 17:
            raise InfraError(f"{java} is Java {major}; Kafka 4 needs Java 17 or newer (set JAVA_HOME)")
    return java


def pom_stamp() -> str:
    return hashlib.sha1(KAFKA_POM.read_bytes()).hexdigest()


def ensure_jars() -> None:
    """lib/ is reused while it was filled from this very pom.xml (stamp) and has the expected jars."""
    kafka_v, log4j_v = pom_versions()
    stamp = KAFKA_LIB / ".pom-sha1"
    if jars_present(kafka_v, log4j_v) and stamp.is_file() and stamp.read_text().strip() == pom_stamp():
        return
    mvn = shutil.which("mvn")
    if not mvn:
        apt_install(["maven"], "no mvn found (needed once to fetch the Kafka jars)")
        mvn = shutil.which("mvn")
        if not mvn:
            raise InfraError("mvn is still not on PATH after installing maven")
    if KAFKA_LIB.exists():
        # another version's jars would end up on the same classpath: start clean
        shutil.rmtree(KAFKA_LIB)
    say("kafka", f"fetching Kafka {kafka_v} jars with Maven into {KAFKA_LIB} (once; cached in ~/.m2) ...")
    t0 = time.monotonic()
    proc = subprocess.run(
        [mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(KAFKA_POM), "package"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0 or not jars_present(kafka_v, log4j_v):
        raise InfraError(
            f"Maven could not fetch the Kafka jars (exit {proc.returncode}):\n"
            f"{(proc.stdout + proc.stderr).strip()[-4000:]}"
        )
    stamp.write_text(pom_stamp() + "\n")
    say("kafka", f"jars fetched in {time.monotonic() - t0:.1f}s")


# ----------------------------------------------------------------------------------------------
# Kafka: the wire protocol, just enough to know the broker really serves clients


def _kafka_request(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    client_id = b"orchard-infra"
    header = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id  # request header v1
    msg = header + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
    resp = _recv_exact(sock, size)
    if struct.unpack(">i", resp[:4])[0] != corr:
        raise OSError("correlation id mismatch")
    return resp[4:]  # response header v0 is the correlation id alone


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed by broker")
        buf += chunk
    return bytes(buf)


def kafka_probe(port: int, timeout: float = 3.0) -> tuple[bool, str]:
    """ApiVersions v0, then Metadata v4: ready when our broker is listed (registered and unfenced)
    and a controller is known. Returns (ready, detail)."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            r = _kafka_request(sock, 18, 0, 1, b"")
            err, n = struct.unpack(">hi", r[:6])
            if err != 0:
                return False, f"ApiVersions error code {err}"
            versions = {}
            for i in range(n):
                key, lo, hi = struct.unpack(">hhh", r[6 + 6 * i : 12 + 6 * i])
                versions[key] = (lo, hi)
            lo, hi = versions.get(3, (99, -1))
            if not lo <= 4 <= hi:
                return False, f"broker does not speak Metadata v4 (supports {lo}..{hi})"
            # Metadata v4: topics = [] (none), allow_auto_topic_creation = false
            r = _kafka_request(sock, 3, 4, 2, struct.pack(">ib", 0, 0))
            off = 4  # throttle_time_ms
            (nb,) = struct.unpack_from(">i", r, off)
            off += 4
            brokers = []
            for _ in range(nb):
                node_id, hlen = struct.unpack_from(">ih", r, off)
                off += 6
                host = r[off : off + hlen].decode()
                off += hlen
                (bport, rlen) = struct.unpack_from(">ih", r, off)
                off += 6 + max(rlen, 0)
                brokers.append((node_id, host, bport))
            (clen,) = struct.unpack_from(">h", r, off)
            off += 2 + max(clen, 0)
            (controller,) = struct.unpack_from(">i", r, off)
            if not any(b[0] == KAFKA_NODE_ID for b in brokers):
                return False, "broker not yet registered/unfenced"
            if controller < 0:
                return False, "no active controller yet"
            return True, f"brokers={brokers} controller={controller}"
    except (OSError, struct.error, UnicodeDecodeError) as e:
        return False, str(e) or type(e).__name__


def kafka_warm_group_coordinator(port: int, timeout: float = 20.0) -> bool:
    """FindCoordinator for a group until it answers: on a fresh cluster this creates __consumer_offsets
    now, so the first consumer group of a test or service does not wait for it (or log
    GroupCoordinatorNotAvailable). Best effort."""
    deadline = time.monotonic() + timeout
    group = b"orchard-infra-warmup"
    corr = 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=3.0) as sock:
                sock.settimeout(3.0)
                while time.monotonic() < deadline:
                    corr += 1
                    # FindCoordinator v1: key, key_type 0 (group)
                    r = _kafka_request(sock, 10, 1, corr, struct.pack(">h", len(group)) + group + b"\0")
                    (err,) = struct.unpack_from(">h", r, 4)
                    if err == 0:
                        return True
                    time.sleep(0.2)
        except (OSError, struct.error):
            time.sleep(0.2)
    return False


# ----------------------------------------------------------------------------------------------
# Kafka: processes


def kafka_server_properties(cfg: Config) -> str:
    p = cfg.kafka_port
    c = cfg.controller_port
    settings = {
        # single node, KRaft, static quorum
        "process.roles": "broker,controller",
        "node.id": str(KAFKA_NODE_ID),
        "controller.quorum.voters": f"{KAFKA_NODE_ID}@{HOST}:{c}",
        "controller.listener.names": "CONTROLLER",
        "listeners": f"PLAINTEXT://{HOST}:{p},CONTROLLER://{HOST}:{c}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{p}",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(cfg.kafka_log_dirs),
        # topics: the services create theirs explicitly; auto-creation is a convenience for poking around
        "auto.create.topics.enable": "true",
        "num.partitions": "6",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        # internal topics on one node: RF 1, and 1 partition so the first group join/txn is quick
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "share.coordinator.state.topic.num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",
        # sized for a 2-core machine
        "num.network.threads": "2",
        "num.io.threads": "2",
        "num.recovery.threads.per.data.dir": "1",
        "background.threads": "4",
        "log.cleaner.threads": "1",
        "log.cleaner.dedupe.buffer.size": "33554432",
    }
    lines = ["# Written by deploy/local/infra.py on every `up`; edit the script, not this file."]
    lines += [f"{k}={v}" for k, v in settings.items()]
    return "\n".join(lines) + "\n"


def kafka_pid(cfg: Config) -> int | None:
    """The pid of this data dir's broker, if it is running."""
    try:
        pid = int(cfg.kafka_pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    if not pid_alive(pid):
        return None
    args = cmdline(pid)
    if "kafka.Kafka" in args and str(cfg.kafka_props) in args:
        return pid
    return None  # pid reused by something else


def kafka_formatted(cfg: Config) -> bool:
    return (cfg.kafka_log_dirs / "meta.properties").is_file()


def kafka_classpath() -> str:
    return str(KAFKA_LIB / "*")


def new_cluster_id() -> str:
    # what `kafka-storage random-uuid` prints: 16 random bytes, URL-safe base64 without padding
    while True:
        cid = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not cid.startswith("-") and cid not in ("AAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAQ"):
            return cid


def kafka_format(cfg: Config, java: str) -> None:
    cid = new_cluster_id()
    say("kafka", f"formatting storage in {cfg.kafka_log_dirs} (cluster id {cid}) ...")
    cmd = [
        java,
        *TOOL_JVM_OPTS,
        f"-Dlog4j2.configurationFile={KAFKA_LOG4J}",
        f"-Dorchard.kafka.logfile={cfg.kafka_tool_log}",
        "-cp",
        kafka_classpath(),
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cid,
        "-c",
        str(cfg.kafka_props),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0 or not kafka_formatted(cfg):
        raise InfraError(
            f"Kafka StorageTool format failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr).strip()[-3000:]}"
        )


def kafka_up(cfg: Config) -> None:
    t0 = time.monotonic()
    pid = kafka_pid(cfg)
    if pid is not None:
        ready, _ = kafka_probe(cfg.kafka_port)
        if ready:
            say("kafka", f"already running (pid {pid}) on {cfg.bootstrap}")
            return
        say("kafka", f"process {pid} is running but not answering yet; waiting ...")
        kafka_wait_ready(cfg, pid, None, t0)
        return
    java = ensure_java()
    ensure_jars()
    for port in (cfg.kafka_port, cfg.controller_port):
        if port_open(port):
            raise InfraError(
                f"port {HOST}:{port} is already in use by another process (not this data dir's "
                f"broker). Stop it, or choose other ports with ORCHARD_KAFKA_PORT "
                f"(the controller uses ORCHARD_KAFKA_PORT + 1)."
            )
    for d in (cfg.kafka_dir, cfg.kafka_log_dirs, cfg.logs, cfg.run):
        d.mkdir(parents=True, exist_ok=True)
    cfg.kafka_props.write_text(kafka_server_properties(cfg))
    fresh = not kafka_formatted(cfg)
    if fresh:
        kafka_format(cfg, java)
    cmd = [
        java,
        *KAFKA_HEAP,
        *KAFKA_JVM_OPTS,
        f"-Dlog4j2.configurationFile={KAFKA_LOG4J}",
        f"-Dorchard.kafka.logfile={cfg.kafka_log}",
        "-cp",
        kafka_classpath(),
        "kafka.Kafka",
        str(cfg.kafka_props),
    ]
    marker = f"\n{MARKER} kafka at {time.strftime('%Y-%m-%d %H:%M:%S')} ====\n".encode()
    with open(cfg.kafka_log, "ab") as log:
        log.write(marker)
    with open(cfg.kafka_out, "ab") as out:
        out.write(marker)
        out.flush()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=str(cfg.kafka_dir),
            start_new_session=True,
            close_fds=True,
        )
    cfg.kafka_pidfile.write_text(f"{proc.pid}\n")
    say("kafka", f"started (pid {proc.pid}), waiting for it to serve metadata on {cfg.bootstrap} ...")
    kafka_wait_ready(cfg, proc.pid, proc, t0)
    if fresh:
        t1 = time.monotonic()
        if kafka_warm_group_coordinator(cfg.kafka_port):
            say(
                "kafka",
                f"group coordinator ready (__consumer_offsets created) in {time.monotonic() - t1:.1f}s",
            )
        else:
            say(
                "kafka",
                "warning: the group coordinator did not answer yet; the first consumer may wait a bit",
            )


def kafka_wait_ready(cfg: Config, pid: int, proc: subprocess.Popen[bytes] | None, t0: float) -> None:
    deadline = time.monotonic() + KAFKA_READY_TIMEOUT
    detail = ""
    while time.monotonic() < deadline:
        if (proc is not None and proc.poll() is not None) or not pid_alive(pid):
            code = proc.returncode if proc is not None else "?"
            raise InfraError(
                f"Kafka exited during start-up (exit code {code}).\n"
                f"{cfg.kafka_out} (WARN and up):\n{tail_since_marker(cfg.kafka_out, 30)}\n"
                f"{cfg.kafka_log} (last lines):\n{tail_since_marker(cfg.kafka_log, 12)}"
            )
        ready, detail = kafka_probe(cfg.kafka_port, timeout=2.0)
        if ready:
            say("kafka", f"ready on {cfg.bootstrap} (pid {pid}) after {time.monotonic() - t0:.1f}s")
            return
        time.sleep(0.25)
    say("kafka", f"not ready after {KAFKA_READY_TIMEOUT:.0f}s ({detail}); stopping it")
    stop_pid(pid, "kafka", KAFKA_STOP_TIMEOUT)
    raise InfraError(
        f"Kafka did not become ready within {KAFKA_READY_TIMEOUT:.0f}s (last probe: {detail}).\n"
        f"{cfg.kafka_log}:\n{tail_since_marker(cfg.kafka_log, 40)}"
    )


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


def kafka_down(cfg: Config) -> None:
    pid = kafka_pid(cfg)
    if pid is None:
        say("kafka", "not running")
        cfg.kafka_pidfile.unlink(missing_ok=True)
        return
    t0 = time.monotonic()
    say("kafka", f"stopping (pid {pid}) ...")
    stop_pid(pid, "kafka", KAFKA_STOP_TIMEOUT)
    cfg.kafka_pidfile.unlink(missing_ok=True)
    say("kafka", f"stopped in {time.monotonic() - t0:.1f}s")


# ----------------------------------------------------------------------------------------------
# PostgreSQL


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


# ----------------------------------------------------------------------------------------------
# commands


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


if __name__ == "__main__":
    sys.exit(main())
