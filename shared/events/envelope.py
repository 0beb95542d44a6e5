"""The input envelope (contract, "The input envelope") and the one way in: ``parse_event``.

Ingest calls ``parse_event`` on every record and HTTP item; consumers of the canonical topics can
call it again (it is cheap) and so never trust bytes that were written there by other means.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Final, Literal, get_args

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from shared.events._errors import (
    ROOT_LOC,
    EventValidationError,
    field_error,
    field_errors_from,
    preview,
)
from shared.events._fields import ID_MAX, Identifier, OptionalId, StrictInt, Timestamp
from shared.events.payloads import DATA_MODEL_BY_TYPE, EventData, EventType

EVENT_TYPES: Final[frozenset[str]] = frozenset(get_args(EventType))
SUPPORTED_SCHEMA_VERSIONS: Final[frozenset[int]] = frozenset({1})
DEFAULT_MAX_BYTES: Final = 1_048_576

TopicKind = Literal["usage", "interaction", "contract"]
_TOPIC_KIND_BY_PREFIX: Final[dict[str, TopicKind]] = {
    "usage": "usage",
    "interaction": "interaction",
    "ticket": "interaction",
    "survey": "interaction",
    "contact": "interaction",
    # CRM facts about the account travel with the interactions (contract, 2026-11-30).
    "account": "interaction",
    "contract": "contract",
}
_SORTED_TYPES: Final = ", ".join(sorted(EVENT_TYPES))


def _known_event_type(value: object) -> object:
    # Every bad `type` is reported as unknown_event_type, whatever its JSON kind, so that a client
    # can tell "we do not know this event" from a field problem with one check.
    if isinstance(value, str):
        value = value.strip()
        if value in EVENT_TYPES:
            return value
    raise PydanticCustomError(
        "unknown_event_type",
        "unknown event type {value}; expected one of: {expected}",
        {"value": preview(value), "expected": _SORTED_TYPES},
    )


def _supported_schema_version(version: int) -> int:
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise PydanticCustomError(
            "unsupported_schema_version",
            "schema_version {version} is not supported; supported: {supported}",
            {"version": version, "supported": ", ".join(map(str, sorted(SUPPORTED_SCHEMA_VERSIONS)))},
        )
    return version


def _data_for_type(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    # `data` is validated by the model its envelope's `type` names (fields validate in order, so
    # type and schema_version are known here). Without a valid type or version there is no schema
    # to check data against; the envelope is rejected for those errors alone.
    event_type = info.data.get("type")
    if event_type is None or "schema_version" not in info.data:
        return value
    model = DATA_MODEL_BY_TYPE[event_type]
    if type(value) is model:
        return value
    return model.__pydantic_validator__.validate_python(value)


class Envelope(BaseModel):
    """A validated input event. ``data`` is the model for ``type`` (see ``DATA_MODEL_BY_TYPE``).

    Unknown top-level keys are rejected (``extra="forbid"``), unlike inside ``data``: the envelope is
    the versioned frame of the contract, so an unknown key there is a typo (``occured_at``) or a
    producer speaking another version, and silently dropping it would lose what the producer meant.
    Producers evolve inside ``data``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    event_id: Identifier
    type: Annotated[EventType, BeforeValidator(_known_event_type)]
    schema_version: Annotated[
        StrictInt,
        AfterValidator(_supported_schema_version),
        Field(json_schema_extra={"enum": sorted(SUPPORTED_SCHEMA_VERSIONS)}),
    ]
    account_id: Identifier
    occurred_at: Timestamp
    source: OptionalId = None
    data: Annotated[EventData, WrapValidator(_data_for_type)]


def parse_event(
    raw: bytes | bytearray | memoryview | str | Mapping[str, Any],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    now: datetime | None = None,
    max_future_skew: timedelta | None = None,
) -> Envelope:
    """Validate one input event and return it normalised; raise ``EventValidationError`` if not.

    ``raw`` is the JSON text (bytes as read from Kafka or HTTP) or an already decoded object. A
    mapping is re-encoded to JSON first so that every path has the same rules (size, NUL characters,
    unpaired surrogates, JSON types): it must hold JSON-compatible values only. ``max_bytes`` bounds
    the JSON size. With ``now`` (timezone-aware) and ``max_future_skew``, an ``occurred_at`` further
    than the skew ahead of ``now`` is rejected: event time drives scores, and a clock far in the
    future would pin an account's state to it.
    """
    return validate_event(load_event_document(raw, max_bytes=max_bytes), now=now, max_future_skew=max_future_skew)


def load_event_document(
    raw: bytes | bytearray | memoryview | str | Mapping[str, Any], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> dict[str, Any]:
    """The JSON object of one record, under ``parse_event``'s rules for size, JSON, UTF-8 and NUL
    characters (EventValidationError otherwise), not yet validated as an envelope: for a consumer that
    decides by ``type`` which model validates it, decoding once."""
    return _load_object(raw, max_bytes=max_bytes)


def validate_event(
    document: dict[str, Any], *, now: datetime | None = None, max_future_skew: timedelta | None = None
) -> Envelope:
    """``parse_event`` after decoding: the envelope of a document ``load_event_document`` returned."""
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as exc:
        raise EventValidationError(field_errors_from(exc), _readable_event_id(document)) from None
    if now is not None and max_future_skew is not None:
        _reject_future(envelope, now=now, max_future_skew=max_future_skew)
    return envelope


def envelope_to_json(env: Envelope) -> bytes:
    """Canonical JSON of a validated envelope: sorted keys, UTC 'Z' timestamps, defaults explicit,
    money as a decimal string. ``parse_event`` of the result gives back an equal envelope."""
    return orjson.dumps(env.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)


def topic_kind(event_type: str) -> TopicKind:
    """Which canonical topic family an input type goes to: ``usage``, ``interaction`` or ``contract``."""
    prefix, dot, rest = event_type.partition(".")
    kind = _TOPIC_KIND_BY_PREFIX.get(prefix) if dot and rest else None
    if kind is None:
        raise ValueError(f"no canonical topic for event type {event_type!r}")
    return kind


def _load_object(raw: object, *, max_bytes: int) -> dict[str, Any]:
    if isinstance(raw, memoryview):
        raw = raw.tobytes()
    if isinstance(raw, (bytes, bytearray)):
        if len(raw) > max_bytes:
            raise _too_large(len(raw), max_bytes)
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _undecodable(bytes(raw), exc) from None
        has_nul_escape = b"\\u0000" in raw
    elif isinstance(raw, str):
        # UTF-8 needs 1-4 bytes a character: only encode when the character count cannot decide.
        if len(raw) > max_bytes or (len(raw) * 4 > max_bytes and len(raw.encode("utf-8", "surrogatepass")) > max_bytes):
            raise _too_large(len(raw.encode("utf-8", "surrogatepass")), max_bytes)
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _undecodable(raw, exc) from None
        has_nul_escape = "\\u0000" in raw
    elif isinstance(raw, Mapping):
        try:
            encoded = orjson.dumps(raw if isinstance(raw, dict) else dict(raw))
        except orjson.JSONEncodeError as exc:
            raise EventValidationError(
                [field_error(ROOT_LOC, f"event is not JSON-compatible: {exc}", "invalid_json")],
                _readable_event_id(raw),
            ) from None
        return _load_object(encoded, max_bytes=max_bytes)
    else:
        document = raw
        has_nul_escape = False
    if not isinstance(document, dict):
        message = f"event must be a JSON object, not {_json_kind(document)}"
        raise EventValidationError([field_error(ROOT_LOC, message, "not_an_object")])
    if has_nul_escape:
        _reject_nul_characters(document)
    return document


def _too_large(size: int, max_bytes: int) -> EventValidationError:
    return EventValidationError(
        [field_error(ROOT_LOC, f"event is {size} bytes, over the limit of {max_bytes}", "payload_too_large")]
    )


def _undecodable(raw: bytes | str, exc: orjson.JSONDecodeError) -> EventValidationError:
    problem: str | None = None
    if isinstance(raw, str):
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError as bad:
            problem = f"character {bad.start}: {bad.reason}"
    else:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            problem = f"byte {bad.start}: {bad.reason}"
    if problem is not None:
        return EventValidationError([field_error(ROOT_LOC, f"event is not valid UTF-8 ({problem})", "invalid_utf8")])
    return EventValidationError([field_error(ROOT_LOC, f"event is not valid JSON: {exc}", "invalid_json")])


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _reject_nul_characters(document: dict[str, Any]) -> None:
    # PostgreSQL text and jsonb cannot hold U+0000; letting one through would fail a consumer's
    # transaction on every retry instead of sending one bad event to the DLQ.
    loc = _find_nul(document)
    if loc is not None:
        message = "strings must not contain the NUL character (\\u0000)"
        raise EventValidationError(
            [field_error(".".join(loc), message, "null_character")], _readable_event_id(document)
        )


def _find_nul(document: dict[str, Any]) -> tuple[str, ...] | None:
    # Iterative: JSON may nest deeper (orjson allows 1024 levels) than Python's recursion limit.
    pending: list[tuple[object, tuple[str, ...]]] = [(document, ())]
    while pending:
        value, path = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    return (*path, key.replace("\x00", "\\u0000"))
                pending.append((item, (*path, key)))
        elif isinstance(value, list):
            pending.extend((item, (*path, str(index))) for index, item in enumerate(value))
    return None


def _readable_event_id(document: Mapping[str, Any]) -> str | None:
    event_id = document.get("event_id")
    if isinstance(event_id, str):
        event_id = event_id.strip()
        if 0 < len(event_id) <= ID_MAX and "\x00" not in event_id:
            return event_id
    return None


def _reject_future(envelope: Envelope, *, now: datetime, max_future_skew: timedelta) -> None:
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    ahead = envelope.occurred_at - now
    if ahead > max_future_skew:
        error = field_error(
            "occurred_at",
            f"occurred_at {envelope.occurred_at.isoformat()} is {ahead} ahead of now "
            f"({now.isoformat()}); at most {max_future_skew} is allowed",
            "future_timestamp",
        )
        raise EventValidationError([error], envelope.event_id)
