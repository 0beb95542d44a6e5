"""The benchmarks' one table: reads bench/results/*.json (the latest run of each) and writes
bench/results/summary.md (path | measured | ceiling in the same run | target | met?, then resources,
scale and the machine's load beside each run) and summary.svg (each path's measured figure as a share
of its target). ``make bench-report``; ``make bench`` ends with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from bench.common import RESULTS

Results = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Row:
    path: str
    measured: str
    ceiling: str
    target: str
    share: float | None
    """measured / target (above 1: met), None when the bench has not run or the target is not a rate."""

    @property
    def met(self) -> str:
        return "not run" if self.share is None else ("yes" if self.share >= 1 else "**no**")


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _get(results: Results, bench: str, *keys: str) -> Any:
    value: Any = results.get(bench)
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def rows(results: Results) -> list[Row]:
    out = []

    def g(*keys: str) -> Any:
        return _get(results, *keys)

    def row(path: str, target: str, goal: float, measured: Callable[[], tuple[float, str, str]] | None) -> None:
        if measured is None:
            out.append(Row(path, "-", "-", target, None))
            return
        value, text, ceiling = measured()
        out.append(Row(path, text, ceiling, target, value / goal))

    trivial, raw = g("plumbing", "runner_trivial_handler_per_s"), g("plumbing", "raw_aiokafka_consume_per_s")
    decode = g("plumbing", "raw_decode_validate_per_s")
    postgres = g("postgres_ceiling", "one_connection_per_s")
    # Two targets: the share is the worse of the two, in units of the rate target.
    row("consumer runner, trivial handler", ">= 50k ev/s, ratio >= 0.3", 50_000, (
        lambda: (50_000 * min(trivial / 50_000, trivial / raw / 0.3),
                 f"{_n(trivial)} ev/s", f"raw aiokafka consume {_n(raw)} ev/s (ratio {trivial / raw:.2f})"
                 + (f"; decode + validate alone {_n(decode)} ev/s" if decode else "")
                 + (f"; its Postgres writes by raw asyncpg {_n(postgres)} ev/s" if postgres else "")))
        if trivial and raw else None)
    produce = g("ingest", "raw_aiokafka_produce_per_s")
    http = g("ingest", "http")
    row("ingest, HTTP batches of 500", ">= 30k ev/s", 30_000, (
        lambda: (http["events_per_s"], f"{_n(http['events_per_s'])} ev/s, p99 {_n(http['p99_ms'])} ms",
                 f"raw idempotent produce {_n(produce)} ev/s")) if http and produce else None)
    kafka = g("ingest", "kafka_path")
    row("ingest, raw Kafka path", ">= 30k ev/s", 30_000, (
        lambda: (kafka["events_per_s"], f"{_n(kafka['events_per_s'])} ev/s", "same")) if kafka and produce else None)
    domain = g("health", "domain_only_per_s")
    outbox_text = f"plumbing with outbox {_n(g('health', 'plumbing_runner_with_outbox_per_s') or 0)} ev/s" + (
        f"; health's domain alone, no I/O, {_n(domain)} ev/s ({g('health', 'evaluation_points_per_event')} "
        "points per event)" if domain else "")
    outbox = g("health", "plumbing_runner_with_outbox_per_s")
    worst = g("health", "applied_per_s")
    row(f"health, {_n(g('health', 'accounts') or 0)} accounts interleaved (worst case)", ">= 5k ev/s", 5_000,
        (lambda: (worst, f"{_n(worst)} ev/s", outbox_text)) if worst and outbox else None)
    clustered = g("health", "clustered")
    row("health, clustered per account-day", ">= 20k ev/s", 20_000, (
        lambda: (clustered["applied_per_s"], f"{_n(clustered['applied_per_s'])} ev/s "
                 f"({_n(clustered['accounts'])} accounts)", f"plumbing with outbox {_n(outbox)} ev/s"))
        if clustered and outbox else None)
    per_s = g("health", "rescore_accounts_per_s")
    row("rescore every account (scheduler)", "100,000 accounts in < 60 s", 100_000 / 60, (
        lambda: (per_s, f"{_n(per_s)} accounts/s ({_n(g('health', 'rescore_accounts'))} in "
                 f"{g('health', 'rescore_seconds')} s; 100,000 in ~{100_000 / per_s:.0f} s)", "-"))
        if per_s else None)
    sustained = g("pipeline", "max_sustained_per_s")
    row("whole pipeline, steady rate, lag flat", ">= 10k ev/s sustained", 10_000, (
        lambda: (sustained, f"{_n(sustained)} ev/s sustained (steps {_steps(results)})",
                 f"ingest HTTP alone {_n(http['events_per_s'])} ev/s" if http else "-"))
        if sustained is not None else None)
    latency, rate = g("pipeline", "alert_latency_ms"), g("pipeline", "latency_rate_per_s")
    fallback = g("pipeline", "alert_latency_at_max_sustained_ms")
    if latency and "p99" in latency:
        out.append(Row("ingest -> churn-risk alert latency", _latency(latency, f"at {_n(rate)} ev/s"), "-",
                       "p99 < 500 ms at 2k ev/s", 500 / max(latency["p99"], 1)))
    elif sustained is not None:
        text = (f"{_n(rate or 0)} ev/s not sustained; " + _latency(fallback, f"at {_n(sustained)} ev/s")
                if fallback and "p99" in fallback else "no sustained step")
        out.append(Row("ingest -> churn-risk alert latency", text, "-", "p99 < 500 ms at 2k ev/s", 0.0))
    else:
        out.append(Row("ingest -> churn-risk alert latency", "-", "-", "p99 < 500 ms at 2k ev/s", None))
    out.append(_soak_row(results.get("soak")))
    out += _scaleout_rows(results.get("scaleout"))
    return out


def _scaleout_rows(scaleout: dict[str, Any] | None) -> list[Row]:
    """Health as more processes in one group (met: faster with more, each event applied once, the same end
    state whatever the instance count), and the rescore as concurrent passes (against the rescore target,
    with its best number of passes)."""
    drain_path, drain_target = "health scaled out (processes in one group, worst case)", \
        "more instances, more ev/s; each event applied once, the same end state"
    rescore_path, rescore_target = "rescore spread over concurrent passes", "100,000 accounts in < 60 s"
    if not scaleout:
        return [Row(drain_path, "-", "-", drain_target, None), Row(rescore_path, "-", "-", rescore_target, None)]
    drains, passes = scaleout["drain"], scaleout["rescore"]
    once = scaleout["each_event_applied_once"] and scaleout["rescore_each_account_once"]
    same = scaleout.get("same_end_state", once)  # results written before it was a figure of its own
    faster = max(d["events_per_s"] for d in drains) > 1.05 * drains[0]["events_per_s"]
    best = max(passes, key=lambda r: r["accounts_per_s"])
    return [
        Row(drain_path, " / ".join(f"{d['instances']}: {_n(d['events_per_s'])} ev/s" for d in drains)
            + f" ({_n(scaleout['events'])} events; each once: {'yes' if once else 'NO'}; "
              f"same end state: {'yes' if same else 'NO'})",
            "CPU s per 1,000 events " + " / ".join(str(d["cpu_s_per_1000_events"]) for d in drains)
            + "; machine busy " + " / ".join(f"{100 * d['machine_busy_share']:.0f} %" for d in drains),
            drain_target, 1.0 if once and same and faster else 0.0),
        Row(rescore_path, " / ".join(f"{r['passes']}: {_n(r['accounts_per_s'])} accounts/s" for r in passes)
            + f" ({_n(best['accounts'])} accounts over one midnight; "
              f"100,000 in ~{100_000 / best['accounts_per_s']:.0f} s)",
            "-", rescore_target, best["accounts_per_s"] / (100_000 / 60)),
    ]


def _soak_row(soak: dict[str, Any] | None) -> Row:
    """The share is the tightest of the three bounds (memory per service, lag, drain), each as bound / measured."""
    path = "load held: one rate for minutes, memory flat, lag bounded"
    target = "RSS growth <= 10 % and 30 MiB; lag <= budget; drained <= 60 s"
    if not soak:
        return Row(path, "-", "-", target, None)
    memory, lag = soak["memory"]["per_service"], soak["lag"]
    shares = [min(m["first_mib"] * 1.1, m["first_mib"] + 30) / m["last_mib"] for m in memory.values()]
    shares.append(lag["budget_s"] / max(*lag["max_s"].values(), 0.01))
    shares.append(lag["drain_budget_s"] / max(lag["drain_s"], 0.01) if lag["drain_s"] is not None else 0.0)
    growth = ", ".join(f"{k} {m['first_mib']:.0f} -> {m['last_mib']:.0f} MiB" for k, m in memory.items())
    drain = f"{lag['drain_s']} s" if lag["drain_s"] is not None else "not drained"
    measured = (f"{_n(soak['achieved_per_s'])} ev/s for {soak['seconds']:.0f} s: {growth}; max lag "
                f"{max(lag['max_s'].values())} s (budget {lag['budget_s']} s); drained in {drain}")
    return Row(path, measured, "-", target, min(shares))


def _latency(figures: dict[str, Any], where: str) -> str:
    return f"p50 {_n(figures['p50'])} / p95 {_n(figures['p95'])} / p99 {_n(figures['p99'])} ms {where} " \
           f"({figures['samples']} samples)"


def _steps(results: Results) -> str:
    return ", ".join(f"{_n(s['target_per_s'])}{'' if s['sustained'] else ' x'}"
                     for s in results["pipeline"].get("steps", []))


def resources(results: Results) -> list[str]:
    lines = ["| bench | path | CPU s per 1,000 events | peak RSS (MB) |", "| --- | --- | --- | --- |"]
    p, i, h, pipe = (results.get(k, {}) for k in ("plumbing", "ingest", "health", "pipeline"))
    if p:
        lines.append(f"| plumbing | runner, trivial handler | {p.get('runner_trivial_cpu_s_per_1000_events')} "
                     f"| {p.get('peak_rss_mb')} (bench process) |")
        lines.append(f"| plumbing | runner with outbox | {p.get('runner_with_outbox_cpu_s_per_1000_events')} | |")
    if i:
        lines.append(f"| ingest | HTTP | {i['http'].get('cpu_s_per_1000_events')} | {i.get('ingest_peak_rss_mb')} |")
        lines.append(f"| ingest | raw Kafka path | {i['kafka_path'].get('cpu_s_per_1000_events')} | |")
    if h:
        lines.append(f"| health | worst case | {h.get('cpu_s_per_1000_events')} | {h.get('peak_rss_mb')} "
                     "(bench process, holds the feed) |")
        if h.get("clustered"):
            lines.append(f"| health | clustered | {h['clustered'].get('cpu_s_per_1000_events')} | |")
    for step in pipe.get("steps", []):
        cpu = ", ".join(f"{k} {v}" for k, v in step["cpu_s_per_1000_events"].items())
        lines.append(f"| pipeline | {_n(step['target_per_s'])} ev/s step | {cpu} | |")
    if pipe.get("peak_rss_mb"):
        lines.append(f"| pipeline | peak RSS per service | | "
                     f"{', '.join(f'{k} {v}' for k, v in pipe['peak_rss_mb'].items())} |")
    soak = results.get("soak", {})
    if soak:
        rss = ", ".join(f"{k} {m['first_mib']} -> {m['last_mib']}" for k, m in soak["memory"]["per_service"].items())
        lines.append(f"| soak | {_n(soak['rate_per_s'])} ev/s held {soak['seconds']:.0f} s: RSS (MiB) after the "
                     f"warm-up -> at the end | | {rss} |")
    return lines


def scale(results: Results) -> list[str]:
    by = _get(results, "health", "worst_case_by_accounts") or {}
    lines = ["| accounts | events | applied ev/s | full rescore (s) | accounts/s | storage (MB) | of which outbox, "
             "emptied (MB) | bytes per account | MB per million events | score_history rows (MB) |",
             "|" + " --- |" * 10]
    for accounts, f in sorted(by.items(), key=lambda kv: int(kv[0])):
        st, tables = f["storage"], f["storage"]["tables"]
        outbox, history = tables.get("outbox", {}), tables.get("score_history", {})
        lines.append(f"| {_n(int(accounts))} | {_n(f['events'])} | {_n(f['applied_per_s'])} | "
                     f"{f.get('rescore_seconds', '-')} | {_n(f.get('rescore_accounts_per_s', 0))} | "
                     f"{st['total_bytes'] / 2**20:.1f} | {outbox.get('bytes', 0) / 2**20:.1f} | "
                     f"{_n(st['bytes_per_account'])} | {st['bytes_per_million_events'] / 2**20:,.0f} | "
                     f"{_n(history.get('rows', 0))} ({history.get('bytes', 0) / 2**20:.1f}) |")
    lines += ["", "The outbox is empty after each run; its size is rows deleted after publishing that autovacuum "
              "has not yet reclaimed (it is reused, not grown, in a steady state)."]
    return lines


def svg(table: list[Row]) -> str:
    """Horizontal bars, each path's measured figure as a share of its target (the line: 100 %)."""
    width, bar, label = 760, 22, 300
    shown = [(r.path, r.share) for r in table if r.share is not None]
    full = width - label - 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{40 + len(shown) * (bar + 8)}" '
             'font-family="sans-serif" font-size="12">',
             '<text x="4" y="16">measured / target (line: target met)</text>']
    for n, (path, share) in enumerate(shown):
        y = 28 + n * (bar + 8)
        w = max(1, min(share, 1.5) / 1.5 * full)
        colour = "#3a7d44" if share >= 1 else "#c0392b"
        parts.append(f'<text x="4" y="{y + 15}">{escape(path[:44])}</text>')
        parts.append(f'<rect x="{label}" y="{y}" width="{w:.0f}" height="{bar}" fill="{colour}"/>')
        parts.append(f'<text x="{label + w + 4:.0f}" y="{y + 15}">{100 * share:.0f} %</text>')
    x = label + full / 1.5
    parts.append(f'<line x1="{x:.0f}" y1="24" x2="{x:.0f}" y2="{32 + len(shown) * (bar + 8)}" stroke="black"/>')
    return "\n".join([*parts, "</svg>\n"])


def load(directory: Path) -> Results:
    out = {}
    for name in ("plumbing", "postgres_ceiling", "ingest", "health", "pipeline", "soak", "scaleout"):
        path = directory / f"{name}.json"
        if path.exists():
            out[name] = json.loads(path.read_text())
    return out


def summary(results: Results) -> str:
    table = rows(results)
    lines = ["# Orchard benchmarks: the latest run of each", "",
             "| path | measured | ceiling in the same run | target | met? |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r.path} | {r.measured} | {r.ceiling} | {r.target} | {r.met} |" for r in table]
    lines += ["", "![measured / target](summary.svg)", "", "## Resources", "", *resources(results),
              "", "## Scale (health, worst case)", "", *scale(results), "", "## When and under what load", "",
              "| bench | at | git | quick | load average at start | at end |", "| --- | --- | --- | --- | --- | --- |"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['at']} | {r['git']} | {r.get('quick', False)} | "
                     f"{r.get('load_average_at_start', '-')} | {r['machine'].get('load_average_at_end', '-')} |")
    lines += ["", "The machine has 2 cores shared with Kafka, PostgreSQL, the services, the load generators and "
              "other people's work: a load average above 2 means every figure here is lower than the same code "
              "would reach on an idle machine."]
    return "\n".join(lines) + "\n"


def main() -> None:
    results = load(RESULTS)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.md").write_text(summary(results))
    (RESULTS / "summary.svg").write_text(svg(rows(results)))
    print(summary(results))


if __name__ == "__main__":
    main()
