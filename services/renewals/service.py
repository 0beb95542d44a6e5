"""The renewals service wired together: tables, runtime (engine, Kafka, relay), one consumer on the
contract and account-health topics, the scheduled pass and the HTTP app. Used by ``__main__`` and by tests; building it
does no I/O (``Runtime.start``, called by ``serve``, does)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.renewals.api import API, RenewalsContext
from services.renewals.handlers import RenewalsHandler
from services.renewals.inputs import RenewalsInput, parse_renewals_input
from services.renewals.scheduler import RenewalsScheduler
from services.renewals.settings import RenewalsSettings
from services.renewals.store import RenewalsTables, renewals_tables
from shared.clock import utc_now
from shared.consumer import ConsumerRunner
from shared.runtime import Job, Runtime, Service

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class RenewalsService(Service):
    settings: RenewalsSettings
    tables: RenewalsTables
    runner: ConsumerRunner[RenewalsInput]
    scheduler: RenewalsScheduler

    @property
    def background(self) -> Sequence[Job]:
        return [self.scheduler.run]


def build_service(
    settings: RenewalsSettings, *, runner_class: type[ConsumerRunner] = ConsumerRunner
) -> RenewalsService:
    tables = renewals_tables(settings.renewals_schema)
    runtime = Runtime(settings, tables=tables.plumbing, versions_dir=MIGRATIONS, runner_class=runner_class)
    topics = settings.topics
    rules = settings.judging_rules
    handler = RenewalsHandler(tables=tables, churn_risk_topic=topics.churn_risk, rules=rules)
    # One runner for both topics (see inputs.py): one lock and one transaction per account and batch.
    runner = runtime.consumer_runner(topics=[topics.contract, topics.account_health], handler=handler,
                                     parser=parse_renewals_input)
    scheduler = RenewalsScheduler(
        tables=tables, rules=rules, churn_risk_topic=topics.churn_risk, clock=utc_now,
        wiring=runtime.pass_wiring(runner, interval_s=settings.renewals_pass_interval_s,
                                   chunk=settings.renewals_pass_chunk, grace_s=settings.renewals_midnight_grace_s,
                                   quiet_s=settings.renewals_stream_quiet_s),
    )
    app = runtime.app(API, context=RenewalsContext(
        sessions=runtime.sessions, tables=tables, window_days=settings.renewals_window_days, clock=utc_now,
        forecast_min_closed=settings.renewals_forecast_min_closed, exchange_rates=settings.exchange_rates()))
    return RenewalsService(runtime=runtime, app=app, port=settings.renewals_port, settings=settings, tables=tables,
                           runner=runner, scheduler=scheduler)
