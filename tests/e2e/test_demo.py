"""`make run`'s main job, end to end: the real service processes (ingest, health, renewals, expansion),
fed the sample over HTTP: health, alerts and triggers come out as the stories say, and the contract
stories show in retention, the renewal forecast and the expansion pipeline, consolidated with the
local run's exchange-rate table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli.sample import sample_accounts
from tests.infra import REPO, Infra, free_port

pytestmark = pytest.mark.e2e


def test_the_demo_scores_every_sample_account_and_raises_the_stories_alerts(
    infra: Infra, unique: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "ORCHARD_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "ORCHARD_DATABASE_URL": infra.database_url,
        # Free ports, not fixed ones: another run of this test on the machine must not answer for ours.
        **{f"ORCHARD_{service}_PORT": str(free_port()) for service in ("INGEST", "HEALTH", "RENEWALS", "EXPANSION")},
        "ORCHARD_RENEWALS_SCHEMA": f"e2e_renewals_{unique}",
        "ORCHARD_EXPANSION_SCHEMA": f"e2e_expansion_{unique}",
        "ORCHARD_INGEST_SCHEMA": f"e2e_ingest_{unique}",
        "ORCHARD_HEALTH_SCHEMA": f"e2e_health_{unique}",
        **{
            f"ORCHARD_TOPIC_{name}": f"e2e.{name.lower()}.{unique}"
            for name in ("RAW", "USAGE", "INTERACTION", "CONTRACT", "DLQ", "ACCOUNT_HEALTH", "CHURN_RISK", "UPSELL")
        },
    }
    summary_file = tmp_path / "summary.json"
    report = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "deploy.local.demo", "--once", "--json", str(summary_file), "--report", str(report)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=420,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"Report: {report}" in done.stdout and "report:" not in done.stdout, "written whole, path printed"
    assert "At-risk accounts" in report.read_text()
    summary = json.loads(summary_file.read_text())
    assert summary["feed"]["rejected"] == 0 and summary["feed"]["accepted"] > 50_000
    grades = {a["account_id"]: a["grade"] for a in summary["accounts"]}
    stories = {a["account_id"]: a["story"] for a in summary["accounts"]}
    assert len(grades) == 24
    by_story: dict[str, set[str]] = {}
    for account, story in stories.items():
        by_story.setdefault(story, set()).add(grades[account])
    assert by_story["steady"] == {"green"}, "steady accounts stay green"
    assert by_story["gone_quiet"] == {"red"}, "silence counts: no usage for 45 days is red with no event saying so"
    assert by_story["usage_collapse"] == {"red"}
    assert "red" not in by_story["new"], "a new account with little data is not red"
    open_kinds = {(a["account_id"], a["kind"]) for a in summary["alerts"] if a["status"] == "open"}
    champion_left = {acct for acct, story in stories.items() if story == "champion_left"}
    assert {(acct, "champion_left") for acct in champion_left} <= open_kinds
    unhappy = {acct for acct, story in stories.items() if story == "unhappy"}
    assert {(acct, "negative_feedback") for acct in unhappy} <= open_kinds
    assert not any(stories[acct] == "steady" for acct, _ in open_kinds), "no alert on a steady account"
    triggers = {(t["account_id"], t["kind"]) for t in summary["triggers"]}
    at_limit = {acct for acct, story in stories.items() if story == "at_seat_limit"}
    assert {(acct, "seat_limit") for acct in at_limit} <= triggers, "every seat in use: an upsell moment"
    assert not any(stories[acct] == "steady" for acct, _ in triggers)
    renewals = {r["account_id"]: r for r in summary["renewals"]}
    assert renewals and all(0 <= r["days_to_renewal"] <= 120 for r in renewals.values())
    red_and_due = [r for acct, r in renewals.items() if grades[acct] == "red"]
    assert red_and_due, "the sample has red accounts renewing within 120 days"
    assert all(r["risk"] in {"high", "critical"} for r in red_and_due), "renewal risk follows health"
    assert any(f["by_currency"] for f in summary["forecasts"]), "the coming quarters' renewals are forecast"
    _assert_the_book_figures(summary, stories, done.stdout)


def _assert_the_book_figures(summary: dict[str, Any], stories: dict[str, str], printed: str) -> None:
    contract_stories = {a.account_id: a.contract_story for a in sample_accounts()}
    renewals = {r["account_id"]: r for r in summary["renewals"]}
    cancelled = {acct for acct, story in contract_stories.items() if story == "cancelled"}
    assert {stories[acct] for acct in cancelled} <= {"gone_quiet", "usage_collapse"}
    assert all(renewals[acct]["stage"] == "churned" and renewals[acct]["risk"] in {"high", "critical"}
               for acct in cancelled), "churn on accounts whose health was red before it: judged so while open"
    early = next(acct for acct, story in contract_stories.items() if story == "renewed_early")
    assert renewals[early]["stage"] == "renewed"

    last_quarter = summary["retention"][-1]
    by_currency = {c["currency"]: c for c in last_quarter["by_currency"]}
    assert set(by_currency) == {"EUR", "GBP", "USD"}
    assert float(by_currency["EUR"]["contraction_arr"]) > 0 and float(by_currency["EUR"]["grr"]) < 1, "downgrade"
    assert float(by_currency["GBP"]["expansion_arr"]) > 0 and float(by_currency["GBP"]["nrr"]) > 1, "a higher plan"
    whole = last_quarter["consolidated"]
    assert whole is not None and whole["currency"] == "USD" and 0 < float(whole["grr"]) < 1

    outcomes = {o for f in summary["forecasts"] for c in f["by_currency"] for o in c["by_outcome"]}
    assert {"renewed", "churned"} <= outcomes, "the early renewal and the cancellations settle their renewals"
    assert any(f["consolidated"] is not None for f in summary["forecasts"] if len(f["by_currency"]) > 1)

    upgraded = next(acct for acct, story in contract_stories.items() if story == "upgraded")
    won = {(t["kind"], t["closed_by"]) for t in summary["triggers"]
           if t["account_id"] == upgraded and t["stage"] == "won"}
    assert ("seat_limit", "contract") in won, "the upgrade wins the seat-limit opportunity"
    stages = {stage for c in summary["pipeline"]["by_currency"] for stage in c["by_stage"]}
    assert {"open", "qualified", "proposed"} <= stages, "weighted by stage: the account manager moved two along"
    assert summary["pipeline"]["consolidated"] is not None
    assert any("won" in c["by_outcome"] for c in summary["pipeline_this_quarter"]["by_currency"])

    for heading in ("Retention of the last four quarters", "Renewal forecast by risk band", "Expansion pipeline"):
        assert heading in printed
    grr, nrr = (f"{100 * float(whole[m]):.1f}%" for m in ("grr", "nrr"))
    assert f"GRR {grr}  NRR {nrr}" in printed, "the book's GRR and NRR of the last quarter, consolidated"
    assert "by risk: " in printed and "settled: " in printed and "by stage: " in printed
