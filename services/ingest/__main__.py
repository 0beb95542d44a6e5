"""``python -m services.ingest``: the ingest service (HTTP API, raw-topic consumer; the runtime prunes
its dedupe record, ``processed_events``, past ``ORCHARD_INGEST_DEDUPE_RETENTION_DAYS``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from services.ingest.api import build_router
from services.ingest.domain import Limits
from services.ingest.routing import HttpIngest, raw_batch_handler, raw_parser
from services.ingest.settings import IngestSettings
from services.ingest.store import ingest_tables
from shared.app import create_app
from shared.clock import Clock, utc_now
from shared.consumer import ConsumerRunner
from shared.runtime import Runtime, run_main, serve

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

DESCRIPTION = (
    "The front door for telemetry, CRM and billing events: validates, de-duplicates and routes them "
    "to the canonical topics, by HTTP (`POST /v1/events`) or from `orchard.ingest.raw.v1`."
)


@dataclass(frozen=True)
class IngestService:
    runtime: Runtime
    app: FastAPI
    runner: ConsumerRunner


def limits_from(settings: IngestSettings) -> Limits:
    return Limits(
        max_body_bytes=settings.ingest_max_body_bytes,
        max_event_bytes=settings.ingest_max_event_bytes,
        max_events_per_request=settings.ingest_max_events_per_request,
        max_future_skew=settings.max_future_skew,
    )


def build(settings: IngestSettings, *, clock: Clock = utc_now) -> IngestService:
    """Wire the service; nothing connects until ``runtime.start()`` (``serve`` calls it)."""
    tables = ingest_tables(settings.ingest_schema)
    runtime = Runtime(settings, tables=tables, versions_dir=MIGRATIONS)
    limits = limits_from(settings)
    runner = runtime.consumer_runner(
        topics=[settings.topics.raw],
        handler=raw_batch_handler(topics=settings.topics, max_event_bytes=limits.max_event_bytes),
        parser=raw_parser(limits=limits, clock=clock),
    )
    http = HttpIngest(
        sessions=runtime.sessions,
        producer=runtime.producer,
        processed_events=tables.processed_events,
        produce_timeout_s=settings.ingest_produce_timeout_s,
    )
    app = create_app(
        service=settings.service_name,
        title="Orchard ingest",
        description=DESCRIPTION,
        api_keys=settings.api_keys,
        routers=[build_router(ingest=http, limits=limits, topics=settings.topics, clock=clock)],
        readiness=runtime.readiness_checks(),
    )
    return IngestService(runtime=runtime, app=app, runner=runner)


async def run(settings: IngestSettings) -> None:
    service = build(settings)
    await serve(service.runtime, service.app, port=settings.ingest_port)


def main() -> None:
    run_main(IngestSettings, run)


if __name__ == "__main__":
    main()
