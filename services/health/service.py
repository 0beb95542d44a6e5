"""The health service wired together: tables, runtime (engine, Kafka, relay), the consumer on the three
canonical topics, the alert inbox's consumer on the churn-risk topic, the rescorer, the timeline's
retention pruner and the HTTP app. Used by ``__main__`` and by tests that run a real
worker process; building it does no I/O (``Runtime.start``, called by ``serve``, does)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.health.api import HealthContext, health_api
from services.health.handlers import HealthHandler
from services.health.inbox import INBOX_GROUP, InboxHandler, InboxRecord, parse_churn_risk
from services.health.pipeline import Pipeline
from services.health.scheduler import Rescorer
from services.health.settings import HealthSettings
from services.health.store import HealthTables, health_tables
from services.health.timeline_store import timeline_retention_rules
from shared.clock import utc_now
from shared.consumer import ConsumerRunner
from shared.retention import RetentionPruner
from shared.runtime import Job, Runtime, Service

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class HealthService(Service):
    settings: HealthSettings
    tables: HealthTables
    pipeline: Pipeline
    runner: ConsumerRunner
    inbox_runner: ConsumerRunner[InboxRecord]
    rescorer: Rescorer
    timeline_pruner: RetentionPruner

    @property
    def background(self) -> Sequence[Job]:
        return [self.rescorer.run, self.timeline_pruner.run]


def build_service(settings: HealthSettings, *, runner_class: type[ConsumerRunner] = ConsumerRunner) -> HealthService:
    tables = health_tables(settings.health_schema)
    runtime = Runtime(settings, tables=tables.plumbing, versions_dir=MIGRATIONS, runner_class=runner_class)
    pipeline = Pipeline(tables=tables, topics=settings.topics, clock=utc_now)
    topics = settings.topics
    runner = runtime.consumer_runner(
        topics=[topics.usage, topics.interaction, topics.contract], handler=HealthHandler(pipeline)
    )
    # The alert inbox reads the churn-risk topic apart from the scoring merge (services/health/inbox.py says why).
    inbox_runner = runtime.consumer_runner(topics=[topics.churn_risk], handler=InboxHandler(tables),
                                           parser=parse_churn_risk, group=INBOX_GROUP)
    timeline_pruner = RetentionPruner(
        sessions=runtime.sessions, rules=timeline_retention_rules(tables.timeline, settings.health_timeline_retention),
        interval_s=settings.prune_interval_s, batch_size=settings.prune_batch_size)
    rescorer = Rescorer(
        pipeline=pipeline,
        wiring=runtime.pass_wiring(runner, interval_s=settings.health_rescore_interval_s,
                                   chunk=settings.health_rescore_chunk, grace_s=settings.health_midnight_grace_s,
                                   quiet_s=settings.health_stream_quiet_s),
        norms_refresh_s=settings.health_norms_refresh_s,
        norms_keep_days=settings.health_norms_keep_days,
    )
    app = runtime.app(
        health_api(backtest_max_bytes=settings.health_backtest_max_bytes,
                   backtest_timeout_s=settings.health_backtest_timeout_s),
        context=HealthContext(sessions=runtime.sessions, tables=tables, rescorer=rescorer, pipeline=pipeline,
                              clock=utc_now),
    )
    return HealthService(runtime=runtime, app=app, port=settings.health_port, settings=settings, tables=tables,
                         pipeline=pipeline, runner=runner, inbox_runner=inbox_runner, rescorer=rescorer,
                         timeline_pruner=timeline_pruner)
