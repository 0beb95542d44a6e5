"""Ingest's rules, pure: what a request body holds, which events pass, where each one goes.

No I/O and no clock: ``now`` is a parameter. Both ways in (HTTP and the raw topic) use
``check_event`` and ``route``, so an event is judged and routed the same whichever way it came.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from shared.events import Envelope, EventValidationError, FieldError, envelope_to_json, parse_event, topic_kind
from shared.settings import TopicSettings

BATCH_KEY = "events"


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int
    max_event_bytes: int
    max_events_per_request: int
    max_future_skew: timedelta


class RequestRejected(Exception):
    """The request is unusable as a whole (not one of its events): answered with a 4xx."""

    def __init__(self, status: int, message: str, *, error_type: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


@dataclass(frozen=True, slots=True)
class Route:
    """An accepted event, ready for its canonical topic: key = account_id, value = canonical JSON."""

    event_id: str
    event_type: str
    topic: str
    key: str
    value: bytes


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    event_id: str | None
    errors: list[FieldError]

    @property
    def reason(self) -> str:
        return rejection_reason(self.errors)


@dataclass(frozen=True)
class CheckedBatch:
    routes: list[Route]
    """The first occurrence of each valid event id, in request order."""
    repeats: int
    """Valid events whose id came earlier in the same request: duplicates without asking the store."""
    rejected: list[Rejection]


def rejection_reason(errors: Sequence[FieldError]) -> str:
    """The first error's type: the label a rejection is counted under."""
    return errors[0]["type"] if errors else "invalid"


def request_events(body: bytes, *, max_events: int) -> list[Any]:
    """The events a POST body holds: one envelope, or ``{"events": [...]}``."""
    if not body.strip():
        raise RequestRejected(400, 'the body is empty: send one event or {"events": [...]}', error_type="empty_body")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestRejected(400, f"the body is not valid JSON: {exc}", error_type="invalid_json") from None
    if not isinstance(document, dict):
        raise RequestRejected(
            400, 'the body must be a JSON object: one event or {"events": [...]}', error_type="not_an_object"
        )
    if BATCH_KEY not in document:
        return [document]
    unexpected = sorted(set(document) - {BATCH_KEY})
    if unexpected:
        raise RequestRejected(
            400, f'a batch is {{"events": [...]}} alone; unexpected keys: {", ".join(unexpected)}',
            error_type="unexpected_keys",
        )
    events = document[BATCH_KEY]
    if not isinstance(events, list):
        raise RequestRejected(400, '"events" must be an array of events', error_type="not_an_array")
    if len(events) > max_events:
        raise RequestRejected(
            413, f"{len(events)} events in one request; at most {max_events} are allowed",
            error_type="too_many_events",
        )
    return events


def check_event(raw: bytes | dict[str, Any], *, now: datetime, limits: Limits) -> Envelope:
    """Validate and normalise one event, rejecting one dated further ahead of ``now`` than the skew."""
    return parse_event(raw, max_bytes=limits.max_event_bytes, now=now, max_future_skew=limits.max_future_skew)


def route(envelope: Envelope, *, topics: TopicSettings, max_event_bytes: int) -> Route:
    """Where an event goes and what is written there.

    The canonical JSON makes defaults explicit, so it can come out a little larger than what the
    producer sent; it is held to the same limit because every consumer reads it with that limit.
    """
    value = envelope_to_json(envelope)
    if len(value) > max_event_bytes:
        error = FieldError(
            loc="", msg=f"the normalised event is {len(value)} bytes, over the limit of {max_event_bytes}",
            type="payload_too_large",
        )
        raise EventValidationError([error], envelope.event_id)
    return Route(
        event_id=envelope.event_id,
        event_type=envelope.type,
        topic=topics.canonical(topic_kind(envelope.type)),
        key=envelope.account_id,
        value=value,
    )


def check_batch(events: Sequence[Any], *, now: datetime, limits: Limits, topics: TopicSettings) -> CheckedBatch:
    """Judge each event of a request on its own: the good are routed, the bad listed with their errors."""
    routes: list[Route] = []
    rejected: list[Rejection] = []
    seen: set[str] = set()
    repeats = 0
    for index, item in enumerate(events):
        try:
            # Anything but an object is re-encoded so that parse_event names the problem.
            raw = item if isinstance(item, dict) else orjson.dumps(item)
            envelope = check_event(raw, now=now, limits=limits)
            routed = route(envelope, topics=topics, max_event_bytes=limits.max_event_bytes)
        except EventValidationError as exc:
            rejected.append(Rejection(index=index, event_id=exc.event_id, errors=exc.errors))
            continue
        if routed.event_id in seen:
            repeats += 1
            continue
        seen.add(routed.event_id)
        routes.append(routed)
    return CheckedBatch(routes=routes, repeats=repeats, rejected=rejected)
