"""``POST /v1/events``: read the body within its limit, judge each event, accept the good ones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from services.ingest.domain import Limits, RequestRejected, check_batch, request_events
from services.ingest.handlers import HttpIngest, ProduceFailed
from services.ingest.metrics import DUPLICATES, REJECTED, REQUESTS_REFUSED
from shared.app import api_router
from shared.auth import require_scope
from shared.batch_failures import is_infrastructure_error
from shared.clock import Clock, utc_now
from shared.errors import ApiError, ErrorBody, error_responses
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
    **error_responses(400, 413, 503),
    400: {"model": ErrorBody, "description": "The body is not JSON, or not an event or a batch"},
    413: {"model": ErrorBody, "description": "The body is over 1 MiB, or the batch over 1,000 events"},
}


def build_router(
    *, ingest: HttpIngest, limits: Limits, topics: TopicSettings, clock: Clock = utc_now
) -> APIRouter:
    router = api_router(prefix="/v1", tags=["ingest"])

    @router.post(
        "/events",
        status_code=202,
        response_model=IngestReply,
        responses=_ERRORS,
        openapi_extra=request_body(max_events=limits.max_events_per_request, max_body_bytes=limits.max_body_bytes),
        # Read (and refused when over) by the route's guard before this function runs.
        max_body_size=limits.max_body_bytes,
        summary="Ingest one event or a batch",
        description="Each event is judged on its own: valid ones are durably on Kafka (acks=all) before the "
        "reply; invalid ones are listed in `rejected` with field-level errors; `duplicates` counts "
        "event ids accepted before (by HTTP or Kafka).",
    )
    async def post_events(request: Request, _key: str = Depends(require_scope("ingest:write"))) -> IngestReply:
        try:
            body = await request.body()
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
