"""The expansion service wired together: catalogue, tables, runtime (engine, Kafka, relay), the
consumer on the three canonical topics and the HTTP app. Used by ``__main__`` and by tests;
building it reads the catalogue file (so a bad catalogue stops the process at start) and does no
other I/O (``Runtime.start``, called by ``serve``, does)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from services.expansion.api import API, ExpansionContext
from services.expansion.domain import Catalogue, parse_catalogue
from services.expansion.handlers import ExpansionHandler
from services.expansion.inputs import ExpansionInput, parse_expansion_input
from services.expansion.norms_store import ExpansionNorms
from services.expansion.settings import ExpansionSettings
from services.expansion.store import ExpansionTables, expansion_tables
from shared.clock import utc_now
from shared.consumer import ConsumerRunner
from shared.runtime import Job, Runtime, Service

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def read_catalogue(path: Path) -> Catalogue:
    """The catalogue at `path`; CatalogueInvalid (a ValueError) says what is wrong with it."""
    return parse_catalogue(yaml.safe_load(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class ExpansionService(Service):
    settings: ExpansionSettings
    tables: ExpansionTables
    catalogue: Catalogue
    runner: ConsumerRunner[ExpansionInput]
    norms: ExpansionNorms

    @property
    def background(self) -> Sequence[Job]:
        # A background job that returns stops the process: with the refresh off there is none.
        if self.settings.expansion_norms_refresh_s <= 0:
            return []
        return [lambda: self.norms.run(lambda: self.runner.caught_up)]


def build_service(
    settings: ExpansionSettings, *, runner_class: type[ConsumerRunner] = ConsumerRunner
) -> ExpansionService:
    catalogue = read_catalogue(settings.catalogue_path)
    thresholds = settings.thresholds()
    tables = expansion_tables(settings.expansion_schema)
    runtime = Runtime(settings, tables=tables.plumbing, versions_dir=MIGRATIONS, runner_class=runner_class)
    topics = settings.topics
    norms = ExpansionNorms(tables=tables, sessions=runtime.sessions, thresholds=thresholds,
                           check_s=settings.expansion_norms_check_s, refresh_s=settings.expansion_norms_refresh_s,
                           keep_days=settings.expansion_norms_keep_days)
    handler = ExpansionHandler(tables=tables, catalogue=catalogue, thresholds=thresholds, upsell_topic=topics.upsell,
                               churn_risk_topic=topics.churn_risk, norms=norms)
    # One runner for all five (see inputs.py): an account's health and its usage meet in one fold, in
    # event time. All are keyed by account_id with `topic_partitions` partitions, so they co-partition.
    runner = runtime.consumer_runner(
        topics=[topics.usage, topics.interaction, topics.contract, topics.account_health, topics.churn_risk],
        handler=handler, parser=parse_expansion_input)
    app = runtime.app(API, context=ExpansionContext(
        sessions=runtime.sessions, tables=tables, catalogue=catalogue, thresholds=thresholds, clock=utc_now,
        stage_weights=settings.expansion_stage_weights, exchange_rates=settings.exchange_rates()))
    return ExpansionService(runtime=runtime, app=app, port=settings.expansion_port, settings=settings, tables=tables,
                            catalogue=catalogue, runner=runner, norms=norms)
