"""What health's /metrics tells an operator, against the real broker and database: churn-risk alerts by
kind and action exactly as published, the age of its outputs at publication, and the scheduler's passes."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from prometheus_client import REGISTRY

from services.health.scheduler import Rescorer
from shared.passes import PassWiring
from tests.integration.health.harness import Health, Story, healthy
from tests.kafka_utils import wait_for

pytestmark = pytest.mark.integration


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_alerts_by_kind_and_action_and_output_ages_match_what_was_published(health: Health) -> None:
    story = Story("unhappy")
    story.contract(0, seats=5, segment="smb")
    story.usage(1, 50, 3)
    story.interaction(9, sentiment=0.4)
    for day in (10, 11, 12):  # three negative items within 30 days: raised
        story.interaction(day, sentiment=-0.9)
    story.interaction(50, sentiment=0.6)  # none for 30 days by day 50: resolved
    await health.apply(sorted(story.events, key=lambda e: e["occurred_at"]))

    churn = await health.records(health.topics.churn_risk, at_least=2)
    published = Counter((r["kind"], r["action"]) for r in churn)
    assert published[("negative_feedback", "raised")] == 1 and published[("negative_feedback", "resolved")] == 1
    service = health.settings.service_name
    counted = {key: _value("orchard_alerts_total", service=service, kind=key[0], action=key[1]) for key in published}
    assert counted == {key: float(n) for key, n in published.items()}

    scores = await health.records(health.topics.account_health, at_least=1)
    for topic, records in ((health.topics.churn_risk, churn), (health.topics.account_health, scores)):
        labels = {"service": service, "stage": "published", "topic": topic}
        assert _value("orchard_event_age_seconds_count", **labels) == len(records), topic
        # The story happened months ago (T0 is 2026-06-01): every age is over a week.
        assert _value("orchard_event_age_seconds_bucket", **labels, le="604800.0") == 0, topic


async def test_scheduler_passes_are_counted_with_their_duration_and_work(health: Health) -> None:
    quiet, busy = healthy("quiet"), healthy("busy", days=90)  # the stream reaches day 90; quiet stopped at 60
    await health.apply(quiet.in_time_order() + busy.in_time_order())
    before = {name: _value(name) for name in (
        "orchard_health_rescore_seconds_count", "orchard_health_rescore_last_done_timestamp_seconds")}
    done = _value("orchard_health_rescore_passes_total", outcome="done")
    deferred = _value("orchard_health_rescore_passes_total", outcome="deferred")
    accounts = _value("orchard_health_rescored_total", result="accounts")

    def scheduler(*, caught_up: bool) -> Rescorer:
        return Rescorer(pipeline=health.service.pipeline, wiring=PassWiring(
            engine=health.service.runtime.engine, sessions=health.service.runtime.sessions, interval_s=0.05,
            chunk=100, caught_up=lambda: caught_up))

    behind = asyncio.create_task(scheduler(caught_up=False).run())
    try:
        async def waited() -> bool:
            return _value("orchard_health_rescore_passes_total", outcome="deferred") > deferred

        await wait_for(waited, timeout=30, what="a pass deferred behind a backlog")
    finally:
        behind.cancel()
    assert _value("orchard_health_rescore_passes_total", outcome="done") == done

    passes = asyncio.create_task(scheduler(caught_up=True).run())
    try:
        async def two_done() -> bool:
            return _value("orchard_health_rescore_passes_total", outcome="done") >= done + 2

        await wait_for(two_done, timeout=60, what="two scheduled passes")
    finally:
        passes.cancel()
    assert _value("orchard_health_rescore_seconds_count") >= before["orchard_health_rescore_seconds_count"] + 2
    assert _value("orchard_health_rescore_last_done_timestamp_seconds") > \
        before["orchard_health_rescore_last_done_timestamp_seconds"]
    # The first pass brought the quiet account up to the stream's last midnight; the next found nothing due.
    assert _value("orchard_health_rescored_total", result="accounts") == accounts + 1
