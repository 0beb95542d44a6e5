"""``POST /v1/events``: read the body within its limit, judge each event, accept the good ones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from services.ingest.domain import Limits, RequestRejected, check_batch, request_events
from services.ingest.metrics import DUPLICATES, REJECTED, REQUESTS_REFUSED
from services.ingest.routing import Clock, HttpIngest, ProduceFailed, utc_now
from shared.auth import require_scope
from shared.consumer import is_infrastructure_error
from shared.errors import ApiError
from shared.events import INPUT_EXAMPLES, embeddable_input_event_schema
from shared.settings import TopicSettings


class FieldProblem(BaseModel):
    loc: str
    msg: str
    type: str


class RejectedEvent(BaseModel):
    index: int
    event_id: str | None
    errors: list[FieldProblem]


class IngestReply(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[RejectedEvent]


class ErrorBody(BaseModel):
    error: dict[str, Any]


def request_body(*, max_events: int, max_body_bytes: int) -> dict[str, Any]:
    """The OpenAPI request body of ``POST /v1/events``: the contract's envelope (generated from the
    event models), alone or in a batch. Documentation only: the handler reads the raw body itself so
    that each event is judged on its own and a bad one is listed in ``rejected``, not a 422."""
    event = embeddable_input_event_schema()
    batch = {
        "title": "Batch",
        "type": "object",
        "properties": {"events": {"type": "array", "maxItems": max_events, "items": event}},
        "required": ["events"],
        "additionalProperties": False,
    }
    return {
        "requestBody": {
            "required": True,
            "description": f'One event envelope (see the contract), or {{"events": [...]}} with at most '
            f"{max_events:,}; {max_body_bytes:,} bytes at most. JSON Schemas: docs/schemas/ in the repository.",
            "content": {
                "application/json": {
                    "schema": {"oneOf": [event, batch]},
                    "examples": {
                        "one event": {"value": INPUT_EXAMPLES["usage.recorded"]},
                        "account.updated": {"value": INPUT_EXAMPLES["account.updated"]},
                        "a batch": {"value": {"events": list(INPUT_EXAMPLES.values())}},
                    },
                }
            },
        }
    }


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "The body is not JSON, or not an event or a batch",
        401: "Missing or unknown API key",
        403: "The API key lacks the ingest:write scope",
        413: "The body is over 1 MiB, or the batch over 1,000 events",
        503: "Kafka or the database is unavailable: nothing was accepted, retry",
    }.items()
}


def build_router(
    *, ingest: HttpIngest, limits: Limits, topics: TopicSettings, clock: Clock = utc_now
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["ingest"])

    @router.post(
        "/events",
        status_code=202,
        response_model=IngestReply,
        responses=_ERRORS,
        openapi_extra=request_body(max_events=limits.max_events_per_request, max_body_bytes=limits.max_body_bytes),
        summary="Ingest one event or a batch",
        description="Each event is judged on its own: valid ones are durably on Kafka (acks=all) before the "
        "reply; invalid ones are listed in `rejected` with field-level errors; `duplicates` counts "
        "event ids accepted before (by HTTP or Kafka).",
    )
    async def post_events(request: Request, _key: str = Depends(require_scope("ingest:write"))) -> IngestReply:
        try:
            body = await _read_body(request, max_bytes=limits.max_body_bytes)
            events = request_events(body, max_events=limits.max_events_per_request)
        except RequestRejected as exc:
            REQUESTS_REFUSED.labels(exc.error_type).inc()
            details = [{"loc": "", "msg": exc.message, "type": exc.error_type}]
            raise ApiError(exc.status, exc.message, details=details) from None
        checked = check_batch(events, now=clock(), limits=limits, topics=topics)
        try:
            fresh = await ingest.accept(checked.routes)
        except ProduceFailed as exc:
            REQUESTS_REFUSED.labels("kafka_unavailable").inc()
            raise ApiError(503, "Kafka did not acknowledge the events; none were accepted, retry the request") from exc
        except Exception as exc:
            if not is_infrastructure_error(exc):
                raise
            REQUESTS_REFUSED.labels("database_unavailable").inc()
            raise ApiError(503, "the database is unavailable; none of the events were accepted, retry") from exc
        duplicates = checked.repeats + len(checked.routes) - len(fresh)
        DUPLICATES.labels("http").inc(duplicates)
        for rejection in checked.rejected:
            REJECTED.labels("http", rejection.reason).inc()
        return IngestReply(
            accepted=len(fresh),
            duplicates=duplicates,
            rejected=[
                RejectedEvent(index=r.index, event_id=r.event_id, errors=[FieldProblem(**e) for e in r.errors])
                for r in checked.rejected
            ],
        )

    return router


async def _read_body(request: Request, *, max_bytes: int) -> bytes:
    """The body, refused as soon as it is known to be too large: from Content-Length before reading
    anything, else while reading (a chunked body has no Content-Length)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise RequestRejected(400, "Content-Length is not a number", error_type="bad_content_length")
        if int(declared) > max_bytes:
            raise _too_large(f"{declared} bytes", max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(f"over {max_bytes} bytes", max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: str, max_bytes: int) -> RequestRejected:
    return RequestRejected(
        413, f"the body is {size}; at most {max_bytes} bytes are allowed (split the batch)",
        error_type="body_too_large",
    )
