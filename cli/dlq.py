"""``orchard dlq list`` and ``orchard dlq replay``: the dead letters on ``orchard.events.dlq.v1``,
filtered, and re-sent once their cause is fixed.

A replay sends each dead letter's original bytes, key and all, to the raw ingest topic (or over
HTTP, or back to the topic it failed on). It is idempotent: the events keep their ``event_id``, so
ingest, and behind it every service, counts a second copy as a duplicate.
"""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson

from cli.api import Api
from cli.config import Config
from cli.errors import EXIT_USAGE, CliError
from cli.events_file import Line
from cli.output import err, out, print_table, text
from cli.send import SendSummary, send_lines
from cli.topics import snapshot
from shared.kafka import make_producer

Target = Literal["raw", "http", "source"]
_AGO = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_moment(value: str, *, now: datetime) -> datetime:
    """An RFC 3339 time with an offset, or a span back from now (``30m``, ``6h``, ``7d``)."""
    if match := _AGO.match(value.strip()):
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise CliError(f"{value!r} is not a time: give RFC 3339 with an offset or a span like 6h",
                       exit_code=EXIT_USAGE) from exc
    if moment.tzinfo is None:
        raise CliError(f"{value!r} has no UTC offset (e.g. 2026-11-30T09:00:00Z)", exit_code=EXIT_USAGE)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Filters:
    source_topic: str | None = None
    kind: str | None = None
    service: str | None = None
    account: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def keep(self, letter: dict[str, Any]) -> bool:
        failed_at = _time(letter.get("failed_at"))
        return (
            (self.source_topic is None or letter.get("source_topic") == self.source_topic)
            and (self.kind is None or letter.get("error_kind") == self.kind)
            and (self.service is None or letter.get("service") == self.service)
            and (self.account is None or letter.get("key") == self.account)
            and (self.since is None or (failed_at is not None and failed_at >= self.since))
            and (self.until is None or (failed_at is not None and failed_at < self.until))
        )


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def original_bytes(letter: dict[str, Any]) -> bytes | None:
    encoded = letter.get("original_base64")
    if not isinstance(encoded, str):
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        return None


def original_event_id(letter: dict[str, Any]) -> str | None:
    raw = original_bytes(letter)
    try:
        value = orjson.loads(raw) if raw is not None else None
    except orjson.JSONDecodeError:
        return None
    event_id = value.get("event_id") if isinstance(value, dict) else None
    return event_id if isinstance(event_id, str) else None


async def dead_letters(config: Config, filters: Filters, *, limit: int | None) -> list[dict[str, Any]]:
    """The dead letters that match, oldest first per partition, each with where it sits on the DLQ."""
    found: list[dict[str, Any]] = []
    async for record in snapshot(config.kafka_bootstrap, config.topics.dlq, since=filters.since):
        try:
            letter = orjson.loads(record.value)
        except orjson.JSONDecodeError:
            err.print(f"[yellow]{record.topic}:{record.partition}@{record.offset} is not JSON; skipped[/]")
            continue
        if isinstance(letter, dict) and filters.keep(letter):
            found.append({**letter, "dlq": {"partition": record.partition, "offset": record.offset},
                          "original_event_id": original_event_id(letter)})
            if limit is not None and len(found) >= limit:
                break
    return found


def print_letters(letters: list[dict[str, Any]]) -> None:
    print_table(f"{len(letters)} dead letters", ("failed at", "service", "kind", "source", "account", "event_id",
                                                  "error"),
                [(text(str(d.get("failed_at", ""))[:19]), text(d.get("service")), text(d.get("error_kind")),
                  text(f"{d.get('source_topic')}:{d.get('partition')}@{d.get('offset')}"), text(d.get("key")),
                  text(d.get("original_event_id")), text(d.get("error"))) for d in letters],
                empty="No dead letter matches.")


async def replay(config: Config, api: Api, letters: list[dict[str, Any]], *, target: Target,
                 show_progress: bool) -> dict[str, Any]:
    """Re-send the originals; the summary says where they went and what could not be sent."""
    sendable = [(d, raw) for d in letters if (raw := original_bytes(d)) is not None]
    skipped = [{"dlq": d["dlq"], "reason": "no original bytes"} for d in letters if original_bytes(d) is None]
    result: dict[str, Any] = {"target": target, "dead_letters": len(letters), "skipped": skipped}
    if target == "http":
        lines = []
        for n, (d, raw) in enumerate(sendable):
            if isinstance(_json_object(raw), dict):
                lines.append(Line(n, raw))
            else:
                skipped.append({"dlq": d["dlq"],
                                "reason": "the original is not a JSON object: replay it to the raw topic"})
        summary: SendSummary = await send_lines(api, lines, total=len(lines), show_progress=show_progress)
        rejected = [{"dlq": sendable[r["line"]][0]["dlq"], "event_id": r["event_id"], "errors": r["errors"]}
                    for r in summary.rejected]
        return {**result, "sent": summary.events, "accepted": summary.accepted, "duplicates": summary.duplicates,
                "rejected": rejected}
    producer = make_producer(config.kafka_bootstrap, client_id="orchard-cli-dlq-replay")
    try:
        await producer.start()
    except Exception as exc:
        await producer.stop()
        raise CliError(f"cannot reach Kafka at {config.kafka_bootstrap} ({exc})") from exc
    try:
        sent_to: dict[str, int] = {}
        acks = []
        for d, raw in sendable:
            topic = config.topics.raw if target == "raw" else str(d.get("source_topic"))
            key = d.get("key")
            acks.append(await producer.send(topic, value=raw, key=key.encode() if isinstance(key, str) else None))
            sent_to[topic] = sent_to.get(topic, 0) + 1
        await asyncio.gather(*acks)  # every record acknowledged (acks=all) before saying it is sent
    finally:
        await producer.stop()
    return {**result, "sent": sum(sent_to.values()), "topics": sent_to}


def _json_object(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def print_replay(result: dict[str, Any]) -> None:
    if result["target"] == "http":
        out.print(f"Re-sent {result['sent']} of {result['dead_letters']} dead letters over HTTP: "
                  f"[green]{result['accepted']} accepted[/], {result['duplicates']} duplicates (already accepted), "
                  f"{len(result['rejected'])} rejected again")
        for r in result["rejected"]:
            problems = "; ".join(f"{e.get('loc')}: {e.get('msg')}" for e in r["errors"])
            out.print(f"  DLQ partition {r['dlq']['partition']} offset {r['dlq']['offset']} "
                      f"({text(r.get('event_id'))}): {text(problems)}")
    else:
        where = ", ".join(f"{text(topic)} ({count})" for topic, count in result["topics"].items())
        out.print(f"Re-sent {result['sent']} of {result['dead_letters']} dead letters to {where or 'nowhere'}; "
                  "ingest de-duplicates by event_id, so a repeat changes nothing. Ones that still fail come back "
                  "to the DLQ with their reason.")
    for s in result["skipped"]:
        out.print(f"  [yellow]skipped[/] DLQ partition {s['dlq']['partition']} offset {s['dlq']['offset']}: "
                  f"{text(s['reason'])}")
