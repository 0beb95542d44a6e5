"""The health service wired together: tables, runtime (engine, Kafka, relay), the consumer on the three
canonical topics, the rescorer and the HTTP app. Used by ``__main__`` and by tests that run a real
worker process; building it does no I/O (``Runtime.start``, called by ``serve``, does)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from services.health.api import HealthContext, create_health_app
from services.health.handlers import HealthHandler
from services.health.pipeline import Pipeline, utc_now
from services.health.scheduler import Rescorer
from services.health.settings import HealthSettings
from services.health.store import HealthTables, health_tables
from shared.consumer import ConsumerRunner
from shared.runtime import Runtime

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class HealthService:
    settings: HealthSettings
    tables: HealthTables
    runtime: Runtime
    pipeline: Pipeline
    runner: ConsumerRunner
    rescorer: Rescorer
    app: FastAPI


def build_service(settings: HealthSettings) -> HealthService:
    tables = health_tables(settings.health_schema)
    runtime = Runtime(settings, tables=tables.plumbing, versions_dir=MIGRATIONS)
    pipeline = Pipeline(tables=tables, topics=settings.topics, clock=utc_now)
    topics = settings.topics
    runner = runtime.consumer_runner(
        topics=[topics.usage, topics.interaction, topics.contract], handler=HealthHandler(pipeline)
    )
    rescorer = Rescorer(
        pipeline=pipeline,
        engine=runtime.engine,
        sessions=runtime.sessions,
        interval_s=settings.health_rescore_interval_s,
        chunk=settings.health_rescore_chunk,
        grace_s=settings.health_midnight_grace_s,
        norms_refresh_s=settings.health_norms_refresh_s,
        norms_keep_days=settings.health_norms_keep_days,
        on_committed=runtime.relay.notify,
        caught_up=lambda: runner.caught_up,
        live_groups=lambda: runner.quiet_partitions(settings.health_stream_quiet_s),
    )
    app = create_health_app(
        HealthContext(sessions=runtime.sessions, tables=tables, rescorer=rescorer, pipeline=pipeline, clock=utc_now),
        api_keys=settings.api_keys,
        readiness=runtime.readiness_checks(),
    )
    return HealthService(settings, tables, runtime, pipeline, runner, rescorer, app)
