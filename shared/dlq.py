"""Dead-letter records: the original bytes and everything needed to understand and replay them."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from aiokafka import ConsumerRecord

from shared.outbox import OutgoingMessage

# The text copy is for people reading the DLQ; past this size only the base64 copy is kept, so a
# dead letter stays within the DLQ topic's record limit whatever the original holds (JSON escapes
# can make text six times longer than its bytes).
ORIGINAL_TEXT_MAX = 64 * 1024


def dead_letter(
    *,
    service: str,
    dlq_topic: str,
    raw: bytes,
    key: bytes | None,
    error: str,
    error_kind: str,
    source_topic: str,
    partition: int | None,
    offset: int | None,
    failed_at: datetime,
) -> OutgoingMessage:
    """Build the DLQ message. Its id is derived from where the record came from, so a replayed
    batch produces the same id and a consumer of the DLQ can de-duplicate."""
    try:
        original_text: str | None = raw.decode("utf-8") if len(raw) <= ORIGINAL_TEXT_MAX else None
    except UnicodeDecodeError:
        original_text = None
    location = f"{source_topic}:{partition}:{offset}"
    event_id = f"dlq:{service}:{location}"
    payload = {
        "event_id": event_id,
        "service": service,
        "error": error,
        "error_kind": error_kind,
        "source_topic": source_topic,
        "partition": partition,
        "offset": offset,
        "key": key.decode("utf-8", "replace") if key else None,
        "original": original_text,
        "original_base64": base64.b64encode(raw).decode("ascii"),
        "original_size": len(raw),
        "failed_at": failed_at.isoformat(),
    }
    return OutgoingMessage(
        topic=dlq_topic,
        key=(key or b"").decode("utf-8", "replace") or location,
        event_id=event_id,
        value=orjson.dumps(payload),
    )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A consumed record on its way to the DLQ: it could not be parsed, or its event was rejected."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    raw: bytes
    error: str
    error_kind: str

    @classmethod
    def of_record(cls, record: ConsumerRecord[bytes, bytes], error: str, kind: str) -> DeadLetter:
        return cls(record.topic, record.partition, record.offset, record.key, record.value or b"", error, kind)

    @property
    def marker(self) -> str:
        return dead_letter_marker(self.topic, self.partition, self.offset)

    def message(self, *, service: str, dlq_topic: str) -> OutgoingMessage:
        return dead_letter(service=service, dlq_topic=dlq_topic, raw=self.raw, key=self.key, error=self.error,
                           error_kind=self.error_kind, source_topic=self.topic, partition=self.partition,
                           offset=self.offset, failed_at=datetime.now(UTC))


def dead_letter_marker(topic: str, partition: int, offset: int) -> str:
    """Recorded in processed_events with a dead letter, so a replayed batch sends it once."""
    return f"dlq:{topic}:{partition}:{offset}"
