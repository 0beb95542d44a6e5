"""Kafka, single node, KRaft: the jars from Maven Central, server.properties, storage format, start,
readiness wait and stop."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from .config import (
    HOST,
    KAFKA_HEAP,
    KAFKA_JVM_OPTS,
    KAFKA_LIB,
    KAFKA_LOG4J,
    KAFKA_NODE_ID,
    KAFKA_POM,
    KAFKA_READY_TIMEOUT,
    KAFKA_STOP_TIMEOUT,
    TOOL_JVM_OPTS,
    Config,
    InfraError,
    say,
)
from .kafka_probe import kafka_probe, kafka_warm_group_coordinator
from .processes import MARKER, apt_install, cmdline, pid_alive, port_open, run, stop_pid, tail_since_marker


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


