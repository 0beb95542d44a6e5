"""Readiness: the Kafka wire protocol, just enough to know the broker really serves clients (the
launcher runs before any virtualenv exists, so there is no client library to ask)."""

from __future__ import annotations

import socket
import struct
import time

from .config import HOST, KAFKA_NODE_ID


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


