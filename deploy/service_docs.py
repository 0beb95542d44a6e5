"""The generated parts of the services' READMEs and of docs/operations.md: each service's endpoints
(from its OpenAPI) and settings (from its settings class: the field's docstring, or the comment above
it), between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->`` markers. After changing a
route or a setting:

    make service-docs      (.venv/bin/python -m deploy.service_docs)

(tests/deploy/test_service_docs.py fails while a document and the code differ.)
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from shared.settings import OrchardSettings

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("ingest", "health", "renewals", "expansion")
OPERATIONS = REPO / "docs" / "operations.md"
# Builds an app for its OpenAPI only: a placeholder key (an app refuses to exist without one), no I/O.
_DOC_KEYS = {"docs": {"sha256": "0" * 64, "scopes": ["read"]}}


# For settings whose class says nothing of them (neither a docstring nor a comment above the field).
NOTES = {
    "ORCHARD_SERVICE_NAME": "The name in logs, metrics (`service` label), client ids and the consumer group "
                            "(`orchard-<name>`).",
    "ORCHARD_KAFKA_BOOTSTRAP": "Kafka bootstrap servers, comma-separated.",
    "ORCHARD_DATABASE_URL": "PostgreSQL, as `postgresql+asyncpg://user:password@host:port/db` (a secret).",
    "ORCHARD_DB_POOL_SIZE": "Database connections per process.",
    "ORCHARD_TOPIC_PARTITIONS": "Partitions of the topics a service creates when they do not exist.",
    "ORCHARD_TOPIC_REPLICATION": "Replication factor of the topics a service creates (3 on a production cluster).",
    "ORCHARD_KAFKA_SECURITY_PROTOCOL": "`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.",
    "ORCHARD_KAFKA_SASL_MECHANISM": "`SCRAM-SHA-512`, `SCRAM-SHA-256` or `PLAIN`.",
    "ORCHARD_KAFKA_SASL_USERNAME": "Required with `SASL_*`.",
    "ORCHARD_KAFKA_SASL_PASSWORD": "Required with `SASL_*` (a secret).",
    "ORCHARD_KAFKA_SSL_KEYFILE": "The client certificate's key (with `ORCHARD_KAFKA_SSL_CERTFILE`).",
    "ORCHARD_DATABASE_SSL_MODE": "libpq's modes: `disable`, `prefer`, `require`, `verify-ca`, `verify-full`.",
    "ORCHARD_DATABASE_SSL_ROOT_CERT": "CA of the server's certificate (for `verify-*`; the system's CAs when unset).",
    "ORCHARD_DATABASE_SSL_CERT": "A client certificate, for servers that authenticate clients by TLS.",
    "ORCHARD_DATABASE_SSL_KEY": "The client certificate's key.",
    "ORCHARD_CONSUMER_MAX_RECORDS": "Records per consumed batch (one database transaction).",
    "ORCHARD_CONSUMER_MAX_WAIT_MS": "How long a fetch waits to fill a batch.",
    "ORCHARD_CONSUMER_RETRY_BACKOFF_MAX_S": "Longest wait between retries of a failing batch.",
    "ORCHARD_CONSUMER_SESSION_TIMEOUT_MS": "An instance without a heartbeat this long leaves the group (its "
                                           "partitions move).",
    "ORCHARD_CONSUMER_HEARTBEAT_INTERVAL_MS": "How often an instance tells the group it is alive (at most a third "
                                              "of the session timeout).",
    "ORCHARD_CONSUMER_MAX_POLL_INTERVAL_MS": "An instance that asks for no records this long (a batch stuck) "
                                             "leaves the group.",
    "ORCHARD_CONSUMER_FETCH_MAX_BYTES": "How much a consumer fetches ahead of its handler, in all (aiokafka's "
                                        "fetch_max_bytes); a record batch larger than the limit is still fetched "
                                        "whole.",
    "ORCHARD_CONSUMER_MAX_PARTITION_FETCH_BYTES": "The same, per partition (aiokafka's max_partition_fetch_bytes).",
    "ORCHARD_CONSUMER_DLQ_BREAKER_MIN_BATCH": "The smallest batch the dead-letter breaker judges.",
    "ORCHARD_OUTBOX_BATCH_SIZE": "Outbox rows per relay transaction.",
    "ORCHARD_OUTBOX_IDLE_POLL_S": "How often an idle relay looks for rows (a commit wakes it at once).",
    "ORCHARD_PROCESSED_EVENTS_RETENTION_DAYS": "How long a downstream service remembers processed event ids.",
    "ORCHARD_PROCESSED_EVENTS_MARGIN_DAYS": "The least the above must exceed ingest's dedupe window by "
                                            "(checked at start).",
    "ORCHARD_PRUNE_INTERVAL_S": "How often expired processed event ids are deleted.",
    "ORCHARD_PRUNE_BATCH_SIZE": "Ids deleted per pruning transaction.",
    "ORCHARD_HTTP_HOST": "The interface the API listens on (`0.0.0.0` in a container).",
    "ORCHARD_LOG_LEVEL": "Log level (JSON lines on stdout).",
    "ORCHARD_RUN_MIGRATIONS_ON_START": "Apply the schema migrations at start (else `make migrate`).",
    "ORCHARD_INGEST_PORT": "The HTTP port.",
    "ORCHARD_INGEST_SCHEMA": "The Postgres schema this service owns.",
    "ORCHARD_INGEST_MAX_BODY_BYTES": "Largest `POST /v1/events` body (413 beyond).",
    "ORCHARD_INGEST_MAX_EVENT_BYTES": "Largest single event, over HTTP or from the raw topic.",
    "ORCHARD_INGEST_MAX_FUTURE_SKEW_S": "How far in the future an `occurred_at` may be before the event is rejected.",
    "ORCHARD_HEALTH_PORT": "The HTTP port.",
    "ORCHARD_RENEWALS_PORT": "The HTTP port.",
    "ORCHARD_EXPANSION_PORT": "The HTTP port.",
    "ORCHARD_EXPANSION_PROMOTER_NPS": "The NPS score that counts as a promoter.",
    "ORCHARD_EXPANSION_PROMOTER_CSAT": "The CSAT score that counts as very satisfied.",
}


@dataclass(frozen=True)
class Setting:
    variable: str
    default: str
    meaning: str


def settings_class(service: str) -> type[OrchardSettings]:
    module = __import__(f"services.{service}.settings", fromlist=["_"])
    (cls,) = [c for c in vars(module).values()
              if isinstance(c, type) and issubclass(c, OrchardSettings) and c is not OrchardSettings]
    return cls


def _field_notes(cls: type) -> dict[str, str]:
    """Each field's docstring (the string after it) or, failing that, the comment block above it."""
    source = textwrap.dedent(inspect.getsource(cls))
    lines = source.splitlines()
    (node,) = ast.parse(source).body
    assert isinstance(node, ast.ClassDef)
    notes: dict[str, str] = {}
    for i, item in enumerate(node.body):
        if not isinstance(item, ast.AnnAssign) or not isinstance(item.target, ast.Name):
            continue
        after = node.body[i + 1] if i + 1 < len(node.body) else None
        if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
            notes[item.target.id] = after.value.value
            continue
        comment: list[str] = []
        row = item.lineno - 2
        while row >= 0 and lines[row].strip().startswith("#"):
            comment.insert(0, lines[row].strip().lstrip("#").strip())
            row -= 1
        notes[item.target.id] = " ".join(comment)
    return notes


def _default(value: Any) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return "unset"
    return f"`{value}`"


def settings_of(cls: type[BaseSettings], *, own: bool, more: dict[str, str] | None = None) -> Iterator[Setting]:
    """The class's ``ORCHARD_*`` variables (only those it adds to its base when `own`); nested settings
    objects (topics, Kafka and database security) are listed by their own variables. `more`: notes by
    field name from where the class passes the values on."""
    prefix = cls.model_config.get("env_prefix", "")
    notes: dict[str, str] = dict(more or {})
    for klass in reversed(cls.__mro__):
        if isinstance(klass, type) and issubclass(klass, BaseSettings) and klass is not BaseSettings:
            notes.update({name: note for name, note in _field_notes(klass).items() if note})
    declared = set(inspect.get_annotations(cls)) if own else set(cls.model_fields)
    for name, field in cls.model_fields.items():
        if name not in declared:
            continue
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseSettings):
            yield from settings_of(nested, own=False)
            continue
        variable = f"{prefix}{name}".upper()
        meaning = re.sub(rf"^``{variable}``[:.]?\s*", "", " ".join(notes.get(name, "").split())) \
            or NOTES.get(variable, "")
        default = "see below" if field.default_factory is not None else _default(field.default)
        if name == "api_keys":
            default = "none: required"
        yield Setting(variable, default, meaning.replace("|", "\\|"))


def settings_table(settings: Iterator[Setting]) -> str:
    rows = [f"| `{s.variable}` | {s.default} | {s.meaning} |" for s in settings]
    return "\n".join(["| variable | default | meaning |", "| --- | --- | --- |", *rows])


def openapi(service: str) -> dict[str, Any]:
    """The service's OpenAPI document, from its app wired as in ``__main__`` (clients built, none started)."""
    settings = settings_class(service)(api_keys=_DOC_KEYS)

    async def built() -> dict[str, Any]:
        wired: Any = __import__(f"services.{service}.service", fromlist=["_"]).build_service(settings)
        try:
            document: dict[str, Any] = wired.app.openapi()
            return document
        finally:
            # Built, never started: closed all the same, or they complain of it when collected.
            for runner in wired.runtime.runners:
                await runner.close()
            await wired.runtime.close()

    return asyncio.run(built())


def endpoints_table(document: dict[str, Any]) -> str:
    rows = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            rows.append(f"| `{method.upper()} {path}` | {operation.get('summary', '')} |")
    return "\n".join(["| endpoint | what |", "| --- | --- |", *rows])


def generated(service: str) -> dict[str, str]:
    cls = settings_class(service)
    more: dict[str, str] = {}
    if service == "expansion":  # its trigger thresholds are documented where the rules read them
        from services.expansion.domain import Thresholds
        more = {f"expansion_{name}": note for name, note in _field_notes(Thresholds).items()}
    return {"endpoints": endpoints_table(openapi(service)),
            "settings": settings_table(settings_of(cls, own=True, more=more))}


def shared_generated() -> dict[str, str]:
    return {"shared-settings": settings_table(settings_of(OrchardSettings, own=True))}


def fill(text: str, sections: dict[str, str]) -> str:
    """The text with each marked section replaced; a section without its markers is an error."""
    for name, body in sections.items():
        begin, end = f"<!-- generated:{name} -->\n", f"\n<!-- /generated:{name} -->"
        start, stop = text.find(begin), text.find(end)
        if start < 0 or stop < start:
            raise ValueError(f"no {begin.strip()} ... {end.strip()} section")
        text = text[:start + len(begin)] + body + text[stop:]
    return text


def documents() -> dict[Path, dict[str, str]]:
    """Each generated document and its sections' contents."""
    docs = {REPO / "services" / s / "README.md": generated(s) for s in SERVICES}
    docs[OPERATIONS] = shared_generated()
    return docs


def main() -> None:
    for path, sections in documents().items():
        path.write_text(fill(path.read_text(), sections))


if __name__ == "__main__":
    main()
