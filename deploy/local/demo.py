"""``make run``: the whole system on local defaults, fed with a realistic sample.

Starts the services as local processes against the Kafka and PostgreSQL that ``make up`` started,
posts the sample (``cli/sample.py``) to ingest over HTTP, waits until health has scored
every account, then prints each account's health with its reasons, the churn-risk alerts raised,
the renewals due with their risk, retention (GRR/NRR) of the last four quarters, the renewal forecast
by risk band, the upsell and cross-sell triggers expansion found and its weighted pipeline, and
writes the HTML report (``orchard report``) and prints where.
The services keep running for exploration until Ctrl+C (``--once``: stop after the summary).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from cli.api import connect
from cli.config import Config
from cli.report import collect_report_data, write_report
from cli.report.figures import forecast_periods, retention_periods
from cli.sample import generate_sample, sample_accounts
from deploy.local.book import account_manager_moves, forecast_lines, pipeline_lines, retention_lines
from shared.kafka import partitions_of
from shared.settings import TopicSettings

REPO = Path(__file__).resolve().parents[2]
DEV_KEY = "dev-key"
"""The one key ``make run`` configures (and prints): every scope, for local exploration only. No
service has a key unless one is configured like this."""
DEV_KEYS = {"dev": {"sha256": hashlib.sha256(DEV_KEY.encode()).hexdigest(),
                    "scopes": ["ingest:write", "read", "write"]}}
LOGS = REPO / ".data" / "logs"
REPORT = REPO / ".data" / "orchard-report.html"
FX_RATES = REPO / "deploy" / "local" / "fx_rates.yaml"


@dataclass(frozen=True)
class Service:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


SERVICES = (
    Service("ingest", int(os.environ.get("ORCHARD_INGEST_PORT", "8001"))),
    Service("health", int(os.environ.get("ORCHARD_HEALTH_PORT", "8002"))),
    Service("renewals", int(os.environ.get("ORCHARD_RENEWALS_PORT", "8003"))),
    Service("expansion", int(os.environ.get("ORCHARD_EXPANSION_PORT", "8004"))),
)
INGEST, HEALTH, RENEWALS, EXPANSION = SERVICES


def infra_env() -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, str(REPO / "deploy" / "local" / "infra.py"), "env"], check=True, capture_output=True, text=True
    )
    pairs = (line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def start(service: Service, env: dict[str, str]) -> subprocess.Popen[bytes]:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / f"{service.name}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", f"services.{service.name}"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )


async def wait_ready(client: httpx.AsyncClient, service: Service, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{service.name} exited with {process.returncode}; see {LOGS / service.name}.log")
        try:
            if (await client.get(f"{service.url}/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.5)
    raise SystemExit(f"{service.name} not ready after 90 s; see {LOGS / service.name}.log")


async def feed(client: httpx.AsyncClient, events: list[dict[str, Any]]) -> dict[str, int]:
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    for start_at in range(0, len(events), 1000):
        reply = await client.post(f"{INGEST.url}/v1/events", json={"events": events[start_at : start_at + 1000]})
        reply.raise_for_status()
        body = reply.json()
        totals["accepted"] += body["accepted"]
        totals["duplicates"] += body["duplicates"]
        totals["rejected"] += len(body["rejected"])
    return totals


async def scored_accounts(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    reply = await client.get(f"{HEALTH.url}/v1/accounts", params={"limit": 500, "sort": "score"})
    reply.raise_for_status()
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


async def wait_consumed(env: dict[str, str], *, group: str, topics: list[str], within_s: float = 240) -> None:
    """Until the service's consumer group has committed every record of its topics (no lag left)."""
    bootstrap = env["ORCHARD_KAFKA_BOOTSTRAP"]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="orchard-demo")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="orchard-demo", enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            partitions = [TopicPartition(t, p) for t in topics for p in await partitions_of(consumer, t)]
            ends = await consumer.end_offsets(partitions) if partitions else {}
            committed = await admin.list_consumer_group_offsets(group)
            if ends and all((committed.get(tp).offset if committed.get(tp) else 0) >= end
                            for tp, end in ends.items()):
                return
            await asyncio.sleep(1.0)
        raise SystemExit(f"{group} did not catch up within {within_s:.0f} s")
    finally:
        await consumer.stop()
        await admin.close()


async def wait_scored(client: httpx.AsyncClient, expected: int, now: datetime) -> list[dict[str, Any]]:
    """Until every account has been evaluated up to `now`'s day: its events applied, then every midnight
    since its last event evaluated by the scheduler, so that silence (no events lately) counts too."""
    today = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), tzinfo=UTC)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        accounts = await scored_accounts(client)
        current = [a for a in accounts if datetime.fromisoformat(a["as_of"]) >= today]
        if len(accounts) >= expected and len(current) == len(accounts):
            return accounts
        await asyncio.sleep(2.0)
    raise SystemExit("health did not score every account as of now within 240 s")


async def settled_triggers(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Expansion reads the same topics at its own pace: wait until its opportunities stop changing."""
    previous: list[dict[str, Any]] | None = None
    for _ in range(30):
        reply = await client.get(f"{EXPANSION.url}/v1/opportunities", params={"limit": 500})
        reply.raise_for_status()
        current: list[dict[str, Any]] = reply.json()["items"]
        if current == previous:
            return current
        previous = current
        await asyncio.sleep(2.0)
    return previous or []


LATE_BILLING_DAYS = 7
Event = dict[str, Any]


def split_late_billing(events: list[Event], now: datetime) -> tuple[list[Event], list[Event]]:
    """The sample's history, and its contract events of the last days (renewals signed, cancellations),
    which the demo sends once health and renewals have read the history, as a billing export would
    come. Sent in the same stream, a cancellation can reach renewals before the health records that
    preceded it in event time (health writes them only as it gets through the usage), and renewals
    would keep the risk of weeks-old health as the one the renewal was last judged at while open."""
    cutoff = now - timedelta(days=LATE_BILLING_DAYS)
    late = [e for e in events
            if e["type"].startswith("contract.") and datetime.fromisoformat(e["occurred_at"]) >= cutoff]
    kept = {id(e) for e in late}
    return [e for e in events if id(e) not in kept], late


async def settle(env: dict[str, str], client: httpx.AsyncClient, now: datetime) -> list[dict[str, Any]]:
    """Until health has applied everything sent and scored every account at the present, and renewals
    has read the contract events and the health records that came of them."""
    inputs = TopicSettings()  # the ORCHARD_TOPIC_* names the services were started with
    await wait_consumed(env, group="orchard-health", topics=[inputs.usage, inputs.interaction, inputs.contract])
    # Once the stream has been quiet a few seconds, the scheduler counts silence up to today.
    accounts = await wait_scored(client, expected=len(sample_accounts()), now=now)
    await wait_consumed(env, group="orchard-renewals", topics=[inputs.contract, inputs.account_health])
    return accounts


async def due_renewals(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    reply = await client.get(f"{RENEWALS.url}/v1/renewals", params={"due_within_days": 120, "limit": 500})
    reply.raise_for_status()
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    items: list[dict[str, Any]] = reply.json()["items"]
    return sorted(items, key=lambda r: (order.get(r["risk"], 4), r["renewal_date"]))


async def _get(client: httpx.AsyncClient, url: str, **params: str) -> dict[str, Any]:
    reply = await client.get(url, params=params)
    reply.raise_for_status()
    body: dict[str, Any] = reply.json()
    return body


def grade_mark(grade: str) -> str:
    return {"green": "●", "yellow": "◐", "red": "○"}.get(grade, "?") + " " + grade


async def summary(client: httpx.AsyncClient, accounts: list[dict[str, Any]]) -> dict[str, Any]:
    stories = {a.account_id: a.story for a in sample_accounts()}
    print("\nAccount health (worst first)")
    print(f"{'account':10} {'story':16} {'segment':11} {'score':>5}  {'grade':8}  why")
    for account in accounts:
        detail = (await client.get(f"{HEALTH.url}/v1/accounts/{account['account_id']}/health")).json()
        reasons = detail["reasons"]
        why = reasons[0]["detail"] if reasons else ""
        print(
            f"{account['account_id']:10} {stories.get(account['account_id'], ''):16} {account.get('segment') or '':11} "
            f"{account['score']:5.1f}  {grade_mark(account['grade']):8}  {why}"
        )
    alerts = (await client.get(f"{HEALTH.url}/v1/alerts", params={"limit": 500})).json()["items"]
    print(f"\nChurn-risk alerts ({len(alerts)}; also on orchard.alerts.churn-risk.v1)")
    for alert in alerts:
        reasons = alert.get("reasons") or []
        print(
            f"  {alert['account_id']:10} {alert['kind']:18} {alert['severity']:8} {alert.get('status', ''):9} "
            f"{reasons[0]['detail'] if reasons else ''}"
        )
    renewals = await due_renewals(client)
    print(f"\nRenewals due within 120 days ({len(renewals)}), riskiest first")
    for r in renewals:
        reason = r["risk_reasons"][0]["detail"] if r["risk_reasons"] else ""
        print(
            f"  {r['account_id']:10} {r['renewal_date']}  in {r['days_to_renewal']:>3} days  "
            f"{float(r['arr']):>10,.0f} {r['currency']}  {r['risk']:8} {r['stage']:11} {reason}"
        )
    now = datetime.now(UTC)
    retention = [await _get(client, f"{RENEWALS.url}/v1/metrics/retention", period=quarter)
                 for quarter in retention_periods(now)]
    print("\nRetention of the last four quarters (GRR / NRR per currency; GET /v1/metrics/retention)")
    print("\n".join(retention_lines(retention)))
    forecasts = [await _get(client, f"{RENEWALS.url}/v1/forecast", period=quarter) for quarter in forecast_periods(now)]
    print("\nRenewal forecast by risk band (expected ARR = ARR x the band's probability; GET /v1/forecast)")
    print("\n".join(forecast_lines(forecasts)))

    triggers = await settled_triggers(client)
    print(f"\nUpsell and cross-sell triggers ({len(triggers)}; also on orchard.signals.upsell.v1)")
    for t in sorted(triggers, key=lambda t: (t["account_id"], -float(t["estimated_arr_uplift"]))):
        print(
            f"  {t['account_id']:10} {t['kind']:20} {t['product']:11} +{float(t['estimated_arr_uplift']):>9,.0f}/yr "
            f"conf {t['confidence']:.2f}  {t['stage']:5} {t['reason']}"
        )
    for opportunity, stage, note in account_manager_moves(triggers):
        reply = await client.patch(f"{EXPANSION.url}/v1/opportunities/{opportunity['opportunity_id']}",
                                   json={"stage": stage, "notes": note, "owner": "sam.lee@example.com"})
        reply.raise_for_status()
        what = f"{opportunity['account_id']}'s {opportunity['kind']} ({opportunity['product']})"
        print(f"  an account manager moves {what} to {stage}: {note} (PATCH /v1/opportunities/{{id}})")
    pipeline = await _get(client, f"{EXPANSION.url}/v1/pipeline")
    this_quarter = await _get(client, f"{EXPANSION.url}/v1/pipeline", period=forecast_periods(now)[0])
    print("\nExpansion pipeline (uplift x the stage's weight; GET /v1/pipeline)")
    print("\n".join(pipeline_lines(pipeline, this_quarter)))
    return {
        "accounts": [{**a, "story": stories.get(a["account_id"])} for a in accounts],
        "alerts": alerts,
        "triggers": triggers,
        "renewals": renewals,
        "forecasts": forecasts,
        "retention": retention,
        "pipeline": pipeline,
        "pipeline_this_quarter": this_quarter,
    }


async def report(env: dict[str, str], path: Path) -> Path:
    """The same report as ``orchard report``, from the services just fed."""
    config = Config(urls={s.name: s.url for s in SERVICES}, api_key=DEV_KEY,
                    kafka_bootstrap=env["ORCHARD_KAFKA_BOOTSTRAP"], topics=TopicSettings())
    async with connect(config) as api:
        data = await collect_report_data(api, now=datetime.now(UTC))
    for section, problem in data.problems.items():
        print(f"report: {section} is missing: {problem}")
    return await asyncio.to_thread(write_report, path, data)


async def demo(*, once: bool, json_path: Path | None, report_path: Path) -> None:
    # The launcher's Kafka and PostgreSQL, unless the environment names others.
    env = {"ORCHARD_LOG_LEVEL": "INFO", **infra_env(), **os.environ}
    # The dev key in the preferred form (named "dev", its secret stored as a digest): the demo feeds
    # and reads with it, so it replaces whatever keys the environment names.
    env["ORCHARD_API_KEYS"] = json.dumps(DEV_KEYS)
    # The demo wants silence to show within seconds, not the production hour.
    env.setdefault("ORCHARD_HEALTH_RESCORE_INTERVAL_S", "10")
    # ... and today's midnight evaluated at once (production waits a grace period for late events).
    env.setdefault("ORCHARD_HEALTH_MIDNIGHT_GRACE_S", "0")
    # ... and silence counted up to now soon after the sample is read (production waits five minutes).
    env.setdefault("ORCHARD_HEALTH_STREAM_QUIET_S", "5")
    # The sample has euro and pound contracts: consolidated totals in dollars beside theirs.
    env.setdefault("ORCHARD_FX_RATES", str(FX_RATES))
    processes = {s.name: start(s, env) for s in SERVICES}
    try:
        headers = {"Authorization": f"Bearer {DEV_KEY}"}
        async with httpx.AsyncClient(headers=headers, timeout=60) as client:
            for service in SERVICES:
                await wait_ready(client, service, processes[service.name])
            print("services ready: " + ", ".join(f"{s.name} {s.url}" for s in SERVICES))
            now = datetime.now(UTC)
            events = generate_sample(now)
            history, changes = split_late_billing(events, now)
            started = time.perf_counter()
            totals = await feed(client, history)
            print(
                f"fed {len(history)} sample events over HTTP in {time.perf_counter() - started:.1f}s: "
                f"{totals['accepted']} accepted, {totals['duplicates']} duplicates (ids seen before), "
                f"{totals['rejected']} rejected"
            )
            if totals["duplicates"]:
                print(
                    "  (the sample's event ids are fixed, so a second run counts nothing twice; its history then "
                    "dates from the first run. `python3 deploy/local/infra.py reset` starts from empty.)"
                )
            print("waiting for health to apply them and re-evaluate every account at the present ...")
            await settle(env, client, now)
            latest = await feed(client, changes)
            totals = {key: totals[key] + latest[key] for key in totals}
            print(f"then the last {LATE_BILLING_DAYS} days' billing changes: {len(changes)} contract events "
                  f"(renewals signed, cancellations), {latest['rejected']} rejected")
            accounts = await settle(env, client, now)
            shown = await summary(client, accounts)
            if json_path is not None:
                figures = json.dumps({"feed": totals, **shown}, indent=2, default=str)
                await asyncio.to_thread(json_path.write_text, figures)
            written = await report(env, report_path)
        docs = ", ".join(f"{s.url}/docs" for s in SERVICES)
        print(f"\nAPI docs: {docs} (API key for this local run only: Authorization: Bearer {DEV_KEY}); "
              f"logs in {LOGS}")
        print(f"The CLI: `.venv/bin/orchard --help` (export ORCHARD_API_KEY={DEV_KEY})")
        print(f"Report: {written} (one HTML file: open it in any browser)")
        if not once:
            print("Services keep running; Ctrl+C stops them.")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in processes.items():
            try:
                process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in 45 s; killing it")
                process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--once", action="store_true", help="stop the services after the summary")
    parser.add_argument("--json", type=Path, help="also write the summary (accounts, alerts) to this file")
    parser.add_argument("--report", type=Path, default=REPORT, help=f"the HTML report's path (default {REPORT})")
    args = parser.parse_args()
    asyncio.run(demo(once=args.once, json_path=args.json, report_path=args.report))


if __name__ == "__main__":
    main()
