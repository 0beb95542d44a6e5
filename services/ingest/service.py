"""The ingest service wired together: its tables (the shared plumbing only), runtime (engine, Kafka,
relay), the consumer on the raw topic and the HTTP app. Used by ``__main__`` and by tests; building
it does no I/O (``Runtime.start``, called by ``serve``, does). The runtime's processed-events pruner
is ingest's dedupe window (``ORCHARD_INGEST_DEDUPE_RETENTION_DAYS``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.ingest.api import build_router
from services.ingest.domain import Limits
from services.ingest.handlers import HttpIngest, raw_batch_handler, raw_parser
from services.ingest.settings import IngestSettings
from services.ingest.store import ingest_tables
from shared.app import ApiSpec
from shared.clock import Clock, utc_now
from shared.consumer import ConsumerRunner
from shared.runtime import Runtime, Service

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

DESCRIPTION = (
    "The front door for telemetry, CRM and billing events: validates, de-duplicates and routes them "
    "to the canonical topics, by HTTP (`POST /v1/events`) or from `orchard.ingest.raw.v1`."
)


@dataclass(frozen=True)
class IngestService(Service):
    runner: ConsumerRunner


def limits_from(settings: IngestSettings) -> Limits:
    return Limits(
        max_body_bytes=settings.ingest_max_body_bytes,
        max_event_bytes=settings.ingest_max_event_bytes,
        max_events_per_request=settings.ingest_max_events_per_request,
        max_future_skew=settings.max_future_skew,
    )


def build_service(
    settings: IngestSettings, *, clock: Clock = utc_now, runner_class: type[ConsumerRunner] = ConsumerRunner
) -> IngestService:
    tables = ingest_tables(settings.ingest_schema)
    runtime = Runtime(settings, tables=tables, versions_dir=MIGRATIONS, runner_class=runner_class)
    limits = limits_from(settings)
    runner = runtime.consumer_runner(
        topics=[settings.topics.raw],
        handler=raw_batch_handler(topics=settings.topics, max_event_bytes=limits.max_event_bytes),
        parser=raw_parser(limits=limits, clock=clock),
    )
    http = HttpIngest(sessions=runtime.sessions, producer=runtime.producer, processed_events=tables.processed_events,
                      produce_timeout_s=settings.ingest_produce_timeout_s)
    routers = [build_router(ingest=http, limits=limits, topics=settings.topics, clock=clock)]
    api = ApiSpec(service=settings.service_name, title="Orchard ingest", description=DESCRIPTION, routers=routers)
    app = runtime.app(api, context=None)
    return IngestService(runtime=runtime, app=app, port=settings.ingest_port, runner=runner)
