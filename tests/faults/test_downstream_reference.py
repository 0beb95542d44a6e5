"""Renewals and expansion against their pure domains, through Kafka and Postgres.

One book goes through ingest onto the canonical topics, then health runs over it once (its
account-health and churn-risk topics are the downstream services' inputs). Then renewals runs over
the contract and account-health topics, several times side by side, each as a real process with a
consumer group, a schema and output topics of its own: batches of at most 1000 and 7 records, and
batches of 100 while it is SIGKILLed and restarted. Expansion then runs the same way over its five
topics (usage, interaction, contract, account-health, and a churn-risk topic of its own that holds
health's alerts and the first renewals run's, merged in event time per partition, as the two
services would have written them, and to which the run adds its own revenue_health_divergence
alerts: the gate ignores those, and the reference leaves them out of the input).

Each run's stored state (renewals: the folded book, the renewals rows, the ARR spans; expansion: the
folded signals and the opportunities, closed ones with how) and the events it emitted (renewal_at_risk
alerts; upsell triggers and divergence alerts; ids and payloads minus `emitted_at`) must equal, account
by account, what the pure domain computes from the records on the input topics alone, merged as the
runner merges a backlog (`tests/faults/downstream.py`). A failure names the account, the aspect and
the path where the two first part.

As in test_batch_independence.py, "now" is out of the comparison by configuration: the scheduled
passes judge only up to the stream's own time (stream-quiet times far beyond the test, no grace).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.expansion.domain import Thresholds
from services.expansion.inputs import parse_expansion_input
from services.expansion.service import read_catalogue
from services.expansion.settings import REPO
from services.renewals.domain import JudgingRules
from services.renewals.inputs import parse_renewals_input
from shared.consumer import ConsumedEvent
from tests.conftest import new_unique
from tests.faults.downstream import (
    differences,
    expansion_reference,
    expansion_run,
    merged_backlog,
    renewals_reference,
    renewals_run,
)
from tests.faults.history import CANONICAL, STREAM_TIME_ONLY, archetype_book, health_settled, through_ingest
from tests.faults.observe import drop_schemas, group_lag, settled, topic_values
from tests.faults.processes import Deployment, ServiceProcess
from tests.infra import Infra
from tests.kafka_utils import create_topic, produce, read_all

pytestmark = [pytest.mark.integration, pytest.mark.faults]

BOOK = {"accounts": 30, "months": 4, "seed": 11}
BATCHINGS = {"b1000": 1000, "b7": 7, "killed": 100}
KILLS = 2
PASSES_STREAM_TIME_ONLY = {"ORCHARD_RENEWALS_STREAM_QUIET_S": "1000000000", "ORCHARD_RENEWALS_MIDNIGHT_GRACE_S": "0",
                           "ORCHARD_RENEWALS_PASS_INTERVAL_S": "1"}
RENEWALS_INPUTS = ("CONTRACT", "ACCOUNT_HEALTH")


def _group(process: ServiceProcess) -> str:
    return f"orchard-{process.env['ORCHARD_SERVICE_NAME']}"


def _schema(process: ServiceProcess) -> str:
    return process.env[f"ORCHARD_{process.service.upper()}_SCHEMA"]


def _run(deployment: Deployment, service: str, label: str, max_records: int, **topics: str) -> ServiceProcess:
    name = f"{service}_{label}"
    return deployment.add(
        service, name=name, ORCHARD_SERVICE_NAME=f"{service}-{label}-{deployment.unique}",
        ORCHARD_CONSUMER_MAX_RECORDS=str(max_records), ORCHARD_TOPIC_DLQ=deployment.topic(f"dlq.{name}"),
        **topics, **PASSES_STREAM_TIME_ONLY)


async def _kill_while_consuming(deployment: Deployment, process: ServiceProcess, inputs: list[str], *,
                                seed: int) -> None:
    """SIGKILL the process part-way through what each life has left to read (at a random share of it,
    watched as the group commits), and start it again: a batch, an offset commit or an outbox
    publication is cut short each time. Progress, not a delay, picks the moment: on a quiet machine a
    service reads this backlog in a second or two, on a loaded one in minutes."""
    rng = random.Random(seed)
    bootstrap = deployment.infra.kafka_bootstrap
    await asyncio.to_thread(process.wait_ready)
    while process.kills < KILLS:
        lag = await group_lag(bootstrap, _group(process), inputs)
        target = int(lag * rng.uniform(0.3, 0.7))
        while 0 < target < lag:
            # A life that ended on its own (e.g. its HTTP port taken between free_port and bind, while
            # another process answered /readyz on it) would leave the lag where it is: fail, not hang.
            assert process.alive(), f"{process.service} exited on its own; see {process.logs}"
            await asyncio.sleep(0.02)
            lag = await group_lag(bootstrap, _group(process), inputs)
        if not lag:
            return
        process.kill()
        process.start()
        await asyncio.to_thread(process.wait_ready)


async def _run_all(deployment: Deployment, engine: AsyncEngine, runs: dict[str, ServiceProcess],
                   inputs: list[str], outputs: dict[str, list[str]]) -> None:
    """Start the runs side by side, SIGKILL the `killed` one, wait for each to settle."""
    for process in runs.values():
        process.start()
    await _kill_while_consuming(deployment, runs["killed"], inputs, seed=7)
    for label, process in runs.items():
        await settled(bootstrap=deployment.infra.kafka_bootstrap, engine=engine, groups={_group(process): inputs},
                      schemas=[_schema(process)], outputs=outputs[label], timeout=1200)
    assert runs["killed"].kills == KILLS, "every kill is to land while records remain"


async def _copy_merged(bootstrap: str, sources: list[str], target: str) -> None:
    """`sources`' records onto `target`, each partition's in event-time order (as two services writing
    one topic at the pace of the same backlog would have put them), same keys, same partitions."""
    await create_topic(bootstrap, target, partitions=3)
    per_partition: dict[int, list[tuple[str, int, Any]]] = defaultdict(list)
    for rank, source in enumerate(sources):
        for record in await read_all(bootstrap, source):
            per_partition[record.partition].append((orjson.loads(record.value)["occurred_at"], rank, record))
    ordered = [item[2] for p in sorted(per_partition) for item in sorted(per_partition[p], key=lambda i: i[:2])]
    await produce(bootstrap, target, [(r.key.decode(), r.value) for r in ordered])
    copied = Counter(r.partition for r in await read_all(bootstrap, target))
    assert copied == Counter({p: len(items) for p, items in per_partition.items()}), \
        "records keep their partition (same key, same partition count)"


def _not_in(values: list[dict[str, Any]]) -> Callable[[ConsumedEvent], bool]:
    ids = {v["event_id"] for v in values}
    return lambda event: event.parsed.event_id not in ids


def _assert_equal(label: str, problems: list[str], accounts: int) -> None:
    """Per run, how many accounts differ, then the first differences (account, aspect, where)."""
    per_run: dict[str, set[str]] = defaultdict(set)
    for problem in problems:
        run, account = problem.split(": ")[:2]
        per_run[run].add(account)
    summary = ", ".join(f"{run}: {len(found)} of {accounts} accounts" for run, found in sorted(per_run.items()))
    assert not problems, f"differences from the pure domain ({summary}):\n" + "\n".join(problems[:30])
    assert accounts == BOOK["accounts"], f"{label}: every account of the book is in the reference"


@pytest.mark.timeout(2400)
async def test_renewals_and_expansion_equal_their_pure_domain_in_any_batching_and_with_kills(
    infra: Infra, engine: AsyncEngine, tmp_path: Path
) -> None:
    deployment = Deployment(infra, new_unique(), tmp_path)
    bootstrap = infra.kafka_bootstrap
    try:
        await through_ingest(deployment, engine, archetype_book(**BOOK))
        health = deployment.add("health", ORCHARD_SERVICE_NAME=f"health-{deployment.unique}", **STREAM_TIME_ONLY)
        health.start()
        await health_settled(deployment, engine, "health", timeout=900)
        health.stop()
        health_topic, health_churn = deployment.topic("ACCOUNT_HEALTH"), deployment.topic("CHURN_RISK")

        renewals = {label: _run(deployment, "renewals", label, size,
                                ORCHARD_TOPIC_CHURN_RISK=deployment.topic(f"churn.renewals.{label}"))
                    for label, size in BATCHINGS.items()}
        renewal_inputs = [deployment.topic(t) for t in RENEWALS_INPUTS]
        await _run_all(deployment, engine, renewals, renewal_inputs,
                       {label: [p.env["ORCHARD_TOPIC_CHURN_RISK"]] for label, p in renewals.items()})
        rules = JudgingRules()
        reference = renewals_reference(await merged_backlog(bootstrap, renewal_inputs, parse_renewals_input), rules)
        problems: list[str] = []
        alerts = 0
        for label, process in renewals.items():
            emitted = await topic_values(bootstrap, process.env["ORCHARD_TOPIC_CHURN_RISK"])
            assert len({v["event_id"] for v in emitted}) == len(emitted), f"renewals {label}: an alert id twice"
            assert not await topic_values(bootstrap, process.env["ORCHARD_TOPIC_DLQ"]), f"renewals {label}: DLQ"
            alerts = len(emitted)
            problems += differences(f"renewals {label}",
                                    reference, await renewals_run(engine, _schema(process),
                                                                  emitted))
        assert alerts, "the book raises renewal_at_risk alerts at all"
        _assert_equal("renewals", problems, len(reference.accounts))

        expansion = {}
        for label, size in BATCHINGS.items():
            churn = deployment.topic(f"churn.expansion.{label}")
            await _copy_merged(bootstrap, [health_churn, renewals["b1000"].env["ORCHARD_TOPIC_CHURN_RISK"]], churn)
            # The reference decides without cohort norms: no refresh pass (when one would run depends on
            # how fast the backlog is read, so the reference cannot know which version each event met).
            expansion[label] = _run(deployment, "expansion", label, size, ORCHARD_TOPIC_CHURN_RISK=churn,
                                    ORCHARD_TOPIC_UPSELL=deployment.topic(f"upsell.{label}"),
                                    ORCHARD_EXPANSION_NORMS_REFRESH_S="0")
        inputs = {label: [*(deployment.topic(t) for t in CANONICAL), health_topic,
                          p.env["ORCHARD_TOPIC_CHURN_RISK"]] for label, p in expansion.items()}
        for process in expansion.values():
            process.start()
        await _kill_while_consuming(deployment, expansion["killed"], inputs["killed"], seed=11)
        for label, process in expansion.items():
            await settled(bootstrap=bootstrap, engine=engine, groups={_group(process): inputs[label]},
                          schemas=[_schema(process)],
                          outputs=[process.env["ORCHARD_TOPIC_UPSELL"], process.env["ORCHARD_TOPIC_CHURN_RISK"]],
                          timeout=1200)
        assert expansion["killed"].kills == KILLS, "every kill is to land while records remain"

        catalogue, thresholds = read_catalogue(REPO / "deploy" / "catalogue.yaml"), Thresholds()
        problems, triggers = [], 0
        for label, process in expansion.items():
            # The run's own divergence alerts come back on its churn-risk topic; they were never input.
            own = [v for v in await topic_values(bootstrap, inputs[label][-1])
                   if v.get("kind") == "revenue_health_divergence"]
            reference = expansion_reference(
                await merged_backlog(bootstrap, inputs[label], parse_expansion_input, keep=_not_in(own)),
                catalogue=catalogue, thresholds=thresholds)
            upsell = await topic_values(bootstrap, process.env["ORCHARD_TOPIC_UPSELL"])
            assert len({v["event_id"] for v in upsell}) == len(upsell), f"expansion {label}: a trigger id twice"
            assert not await topic_values(bootstrap, process.env["ORCHARD_TOPIC_DLQ"]), f"expansion {label}: DLQ"
            triggers = len(upsell)
            problems += differences(f"expansion {label}", reference,
                                    await expansion_run(engine, _schema(process), upsell, own))
        assert triggers, "the book raises upsell triggers at all"
        _assert_equal("expansion", problems, len(reference.accounts))
    finally:
        deployment.stop_all()
        await drop_schemas(engine, deployment.schemas())
