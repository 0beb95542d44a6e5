"""Each performance benchmark runs end to end at its quick size against the real broker and database
and writes the figures bench/report.py reads. Nothing here is timed: the figures only have to exist
and be positive (a bench that measured nothing would write zeros or leave keys out)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.report import load, summary
from tests.infra import REPO, Infra

pytestmark = pytest.mark.integration


def run_bench(module: str, infra: Infra, results: Path, **env: str) -> dict[str, Any]:
    subprocess.run(
        [sys.executable, "-m", f"bench.{module}"], cwd=REPO, check=True, timeout=280, capture_output=True,
        env={**os.environ, "ORCHARD_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
             "ORCHARD_DATABASE_URL": infra.database_url, "BENCH_QUICK": "1",
             "ORCHARD_BENCH_RESULTS": str(results), **env},
    )
    figures: dict[str, Any] = json.loads((results / f"{module}.json").read_text())
    assert figures["quick"] is True and len(figures["machine"]["load_average_at_end"]) == 3
    return figures


def positive(figures: dict[str, Any], *keys: str) -> None:
    for key in keys:
        value: Any = figures
        for part in key.split("."):
            value = value[part]
        assert isinstance(value, int | float) and value > 0, f"{key} = {value!r}"


def test_plumbing_bench(infra: Infra, tmp_path: Path) -> None:
    figures = run_bench("plumbing", infra, tmp_path)
    positive(figures, "raw_aiokafka_consume_per_s", "runner_trivial_handler_per_s", "runner_with_outbox_applied_per_s",
             "runner_trivial_cpu_s_per_1000_events", "peak_rss_mb", "raw_decode_validate_per_s")


def test_postgres_ceiling_bench_writes_every_event(infra: Infra, tmp_path: Path) -> None:
    figures = run_bench("postgres_ceiling", infra, tmp_path)
    positive(figures, "one_connection_per_s", "four_connections_per_s", "client_cpu_s_per_1000_events")


def test_ingest_bench(infra: Infra, tmp_path: Path) -> None:
    figures = run_bench("ingest", infra, tmp_path)
    positive(figures, "http.events_per_s", "http.p99_ms", "http.cpu_s_per_1000_events", "kafka_path.events_per_s",
             "raw_aiokafka_produce_per_s", "ingest_peak_rss_mb")


def test_health_bench_with_storage_and_rescore(infra: Infra, tmp_path: Path) -> None:
    figures = run_bench("health", infra, tmp_path, BENCH_HEALTH_SCALES="60,120")
    assert sorted(figures["worst_case_by_accounts"], key=int) == ["60", "120"]
    for accounts, run in figures["worst_case_by_accounts"].items():
        assert run["accounts_scored"] == int(accounts)
        positive(run, "applied_per_s", "rescore_seconds", "cpu_s_per_1000_events", "storage.bytes_per_account",
                 "storage.bytes_per_million_events", "storage.tables.score_history.rows")
    positive(figures, "clustered.applied_per_s", "plumbing_runner_with_outbox_per_s", "peak_rss_mb",
             "domain_only_per_s", "evaluation_points_per_event")


def test_pipeline_bench_measures_lag_and_alert_latency(infra: Infra, tmp_path: Path) -> None:
    figures = run_bench("pipeline", infra, tmp_path, BENCH_PIPELINE_LATENCY_RATE="200")
    [step] = figures["steps"]
    assert step["target_per_s"] == 200 and set(step["lag_at_end"]) == {"health", "renewals", "expansion"}
    assert step["alert_latency_ms"]["samples"] > 0 and step["alert_latency_ms"]["missing"] == 0
    positive(step, "achieved_per_s", "alert_latency_ms.p99", "cpu_s_per_1000_events.health",
             "cpu_s_per_1000_events.ingest")
    assert set(figures["peak_rss_mb"]) == {"ingest", "health", "renewals", "expansion"}


def test_soak_bench_samples_memory_and_lag(infra: Infra, tmp_path: Path) -> None:
    """Whether memory stayed flat is the full run's verdict (a load figure): here, that it is measured."""
    figures = run_bench("soak", infra, tmp_path, BENCH_SOAK_S="20", BENCH_SOAK_WARMUP_S="4", BENCH_SOAK_WINDOW_S="6",
                        BENCH_SOAK_SAMPLE_S="2")
    services = {"ingest", "health", "renewals", "expansion"}
    assert len(figures["samples"]) >= 6 and all(set(s["rss_mib"]) == services for s in figures["samples"])
    assert all(v > 0 for s in figures["samples"] for v in s["rss_mib"].values())
    assert set(figures["memory"]["per_service"]) == services and isinstance(figures["held"], bool)
    for service in services:
        positive(figures["memory"]["per_service"][service], "first_mib", "last_mib")
    assert set(figures["lag"]["max_records"]) == {"health", "renewals", "expansion"} and figures["lag"]["samples"] > 0
    assert figures["lag"]["drain_s"] is not None  # every event fed was consumed
    positive(figures, "achieved_per_s", "events")
    assert "| load held: one rate for minutes, memory flat, lag bounded | " in summary(load(tmp_path))


def test_scaleout_bench_runs_one_two_three_instances_and_passes(infra: Infra, tmp_path: Path) -> None:
    """Whether more instances were faster is the full run's figure: here, that every run applied each of
    the book's events once and none published an output twice, that the runs ended in the same state, and
    that the rescore passes split the book without a double."""
    figures = run_bench("scaleout", infra, tmp_path, BENCH_SCALEOUT_EVENTS="1500", BENCH_SCALEOUT_ACCOUNTS="150")
    assert [d["instances"] for d in figures["drain"]] == [1, 2, 3]
    assert [len(d["instances_cpu_s"]) for d in figures["drain"]] == [1, 2, 3]
    assert figures["each_event_applied_once"] is True and figures["rescore_each_account_once"] is True
    assert figures["same_end_state"] is True
    assert all(d["book_events_applied"] == figures["events"] for d in figures["drain"])
    assert [r["passes"] for r in figures["rescore"]] == [1, 2, 3]
    for run in figures["drain"]:
        positive(run, "events_per_s", "cpu_s_per_1000_events", "outputs.total", "digest.accounts.rows")
    for rescore in figures["rescore"]:
        positive(rescore, "accounts_per_s", "accounts")
        assert sum(p["accounts"] for p in rescore["per_pass"]) == rescore["accounts"]
    text = summary(load(tmp_path))
    assert "| health scaled out (processes in one group, worst case) | 1: " in text
    assert "| rescore spread over concurrent passes | 1: " in text


def test_report_reads_every_result(tmp_path: Path) -> None:
    """The table from figures shaped as the benches write them (their own tests above check the shape)."""
    (tmp_path / "plumbing.json").write_text(json.dumps({
        "at": "2026-11-30T00:00:00+00:00", "git": "x", "machine": {"load_average_at_end": [1, 1, 1]},
        "raw_aiokafka_consume_per_s": 150_000, "runner_trivial_handler_per_s": 60_000}))
    text = summary(load(tmp_path))
    assert "| consumer runner, trivial handler | 60,000 ev/s | raw aiokafka consume 150,000 ev/s (ratio 0.40) " \
           "| >= 50k ev/s, ratio >= 0.3 | yes |" in text
    assert "| whole pipeline, steady rate, lag flat | - | - | >= 10k ev/s sustained | not run |" in text
    assert "| load held: one rate for minutes, memory flat, lag bounded | - | - | RSS growth <= 10 % and 30 MiB; " \
           "lag <= budget; drained <= 60 s | not run |" in text


def test_report_puts_the_postgres_ceiling_beside_the_runner(tmp_path: Path) -> None:
    (tmp_path / "plumbing.json").write_text(json.dumps({
        "at": "2026-11-30T00:00:00+00:00", "git": "x", "machine": {"load_average_at_end": [1, 1, 1]},
        "raw_aiokafka_consume_per_s": 150_000, "runner_trivial_handler_per_s": 20_000}))
    (tmp_path / "postgres_ceiling.json").write_text(json.dumps({
        "at": "2026-11-30T00:00:00+00:00", "git": "x", "machine": {"load_average_at_end": [1, 1, 1]},
        "one_connection_per_s": 140_000}))
    assert "raw aiokafka consume 150,000 ev/s (ratio 0.13); its Postgres writes by raw asyncpg 140,000 ev/s |" \
        in summary(load(tmp_path))
