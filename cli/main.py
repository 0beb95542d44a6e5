"""The ``orchard`` command: global options, then one sub-command per job. Each command is a thin
shell: parse options, call the module that does the work, print for people or ``--json``."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import subprocess
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer

from cli import accounts as accounts_cmd
from cli import alerts as alerts_cmd
from cli import dlq as dlq_cmd
from cli import send as send_cmd
from cli import simulate as simulate_cmd
from cli.api import connect
from cli.config import Config, default_url
from cli.errors import EXIT_FAILED, CliError
from cli.events_file import FileFormat, file_format, read_events
from cli.output import err, note, out, print_json
from cli.report import collect_report_data, write_report
from shared.settings import TopicSettings

T = TypeVar("T")

# Locals are never shown in tracebacks: they would include the API key.
app = typer.Typer(name="orchard", help="Operate Orchard: send events, look at accounts, watch alerts, replay dead "
                  "letters, write the report.", no_args_is_help=True, pretty_exceptions_show_locals=False,
                  rich_markup_mode="rich")
accounts_app = typer.Typer(help="Accounts as health scores them, and one account's whole picture.",
                           no_args_is_help=True)
alerts_app = typer.Typer(help="Churn-risk alerts and upsell triggers, live from their topics.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters on the DLQ topic: inspect them, and re-send them after a fix.",
                      no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
app.add_typer(alerts_app, name="alerts")
app.add_typer(dlq_app, name="dlq")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's work; a ``CliError`` becomes its message on stderr and its exit code."""
    try:
        return asyncio.run(coroutine)
    except CliError as exc:
        err.print(f"[red]error:[/] {exc.message}", markup=True, highlight=False, soft_wrap=True)
        if exc.hint:
            err.print(exc.hint, style="dim", markup=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


def config_of(ctx: typer.Context) -> Config:
    config: Config = ctx.ensure_object(dict)["config"]
    return config


@app.callback()
def main(
    ctx: typer.Context,
    api_key: Annotated[str | None, typer.Option(envvar="ORCHARD_API_KEY", show_envvar=True, show_default=False,
                                                help="Bearer API key for the services.")] = None,
    kafka_bootstrap: Annotated[str, typer.Option(envvar="ORCHARD_KAFKA_BOOTSTRAP", show_envvar=True,
                                                 help="Kafka bootstrap servers.")] = "127.0.0.1:9092",
    ingest_url: Annotated[str | None, typer.Option(help="Default: ORCHARD_INGEST_URL, else 127.0.0.1:8001 "
                                                        "(ORCHARD_INGEST_PORT).", show_default=False)] = None,
    health_url: Annotated[str | None, typer.Option(help="Default: 127.0.0.1:8002.", show_default=False)] = None,
    renewals_url: Annotated[str | None, typer.Option(help="Default: 127.0.0.1:8003.", show_default=False)] = None,
    expansion_url: Annotated[str | None, typer.Option(help="Default: 127.0.0.1:8004.", show_default=False)] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for a service's answer.")] = 30.0,
) -> None:
    """Service URLs default to the contract's ports on 127.0.0.1; topics to the contract's names
    (ORCHARD_TOPIC_* overrides them, as for the services)."""
    urls = {"ingest": ingest_url or default_url("ingest"), "health": health_url or default_url("health"),
            "renewals": renewals_url or default_url("renewals"),
            "expansion": expansion_url or default_url("expansion")}
    ctx.ensure_object(dict)["config"] = Config(
        urls={k: v.rstrip("/") for k, v in urls.items()},
        api_key=api_key or None, kafka_bootstrap=kafka_bootstrap, topics=TopicSettings(), timeout_s=timeout)


@app.command()
def send(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="JSON Lines (.jsonl, .jsonl.gz) or CSV (.csv) of event envelopes.")],
    format: Annotated[FileFormat | None, typer.Option("--format", help="Override the format the name suggests.")]
    = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1000, help="Events per request.")] = 1000,
    max_bytes: Annotated[int, typer.Option(min=1024, help="Bytes per request body.")] = send_cmd.MAX_BYTES,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    json: JsonOption = False,
) -> None:
    """Send a file of events to ingest (POST /v1/events) in batches; exit 1 if any was rejected.

    CSV columns: event_id, type, schema_version, account_id, occurred_at, source, and the data as
    one JSON column `data` or as `data.<field>` columns (typed by the published event schemas)."""
    config = config_of(ctx)

    async def work() -> send_cmd.SendSummary:
        fmt = file_format(file, format)
        total = sum(1 for _ in read_events(file, fmt))  # the whole file is checked before anything is sent
        async with connect(config) as api:
            return await send_cmd.send_lines(api, read_events(file, fmt), total=total, max_events=batch_size,
                                             max_bytes=max_bytes, show_progress=progress and not json)

    summary = run_async(work())
    if json:
        print_json(summary.to_json())
    else:
        send_cmd.print_summary(summary, source=str(file))
    if summary.rejected:
        raise typer.Exit(EXIT_FAILED)


@accounts_app.command("list")
def accounts_list(
    ctx: typer.Context,
    grade: Annotated[Literal["green", "yellow", "red"] | None, typer.Option(help="Computed grade.")] = None,
    segment: Annotated[str | None, typer.Option()] = None,
    min_score: Annotated[float | None, typer.Option(min=0, max=100)] = None,
    max_score: Annotated[float | None, typer.Option(min=0, max=100)] = None,
    sort: Annotated[Literal["score", "-score", "arr", "-arr", "renewal_date"], typer.Option(
        help="score (lowest first), -score, arr, -arr, renewal_date (soonest first).")] = "score",
    limit: Annotated[int, typer.Option(min=1, help="At most this many accounts (pages are followed).")] = 50,
    json: JsonOption = False,
) -> None:
    """Accounts with their score and grade, as GET /v1/accounts filters and sorts them."""
    config = config_of(ctx)

    async def work() -> list[dict[str, Any]]:
        async with connect(config) as api:
            return await accounts_cmd.list_accounts(api, limit=limit, grade=grade, segment=segment,
                                                    min_score=min_score, max_score=max_score, sort=sort)

    found = run_async(work())
    print_json(found) if json else accounts_cmd.print_accounts(found)


@accounts_app.command("show")
def accounts_show(ctx: typer.Context, account_id: Annotated[str, typer.Argument(help="The account's id.")],
                  json: JsonOption = False) -> None:
    """One account: health with its reasons, open alerts, timeline, renewals and opportunities."""
    config = config_of(ctx)

    async def work() -> dict[str, Any]:
        async with connect(config) as api:
            return await accounts_cmd.account_picture(api, account_id)

    picture = run_async(work())
    print_json(picture) if json else accounts_cmd.print_picture(picture)


@alerts_app.command("tail")
def alerts_tail(
    ctx: typer.Context,
    from_beginning: Annotated[bool, typer.Option("--from-beginning", help="Start at the topics' beginning, "
                                                 "not at the end.")] = False,
    kind: Annotated[list[str] | None, typer.Option(help="Only this kind (repeatable), e.g. grade_red, seat_limit.")]
    = None,
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many.")] = None,
    seconds: Annotated[float | None, typer.Option("--for", min=0, help="Stop after this many seconds.")] = None,
    json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Follow orchard.alerts.churn-risk.v1 and orchard.signals.upsell.v1 (Ctrl+C stops)."""
    config = config_of(ctx)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C is how a tail ends
        run_async(alerts_cmd.tail_alerts(config, from_beginning=from_beginning, as_json=json, count=count,
                                         seconds=seconds, kinds=kind or [], account=account))


def _filters(source_topic: str | None, kind: str | None, service: str | None, account: str | None,
             since: str | None, until: str | None) -> dlq_cmd.Filters:
    now = datetime.now(UTC)
    try:
        return dlq_cmd.Filters(source_topic=source_topic, kind=kind, service=service, account=account,
                               since=None if since is None else dlq_cmd.parse_moment(since, now=now),
                               until=None if until is None else dlq_cmd.parse_moment(until, now=now))
    except CliError as exc:
        raise typer.BadParameter(exc.message) from None


SourceTopic = Annotated[str | None, typer.Option(help="Only dead letters from this topic.")]
ErrorKind = Annotated[str | None, typer.Option("--kind", help="Only this error kind, e.g. validation, handler.")]
FromService = Annotated[str | None, typer.Option(help="Only dead letters written by this service.")]
AccountKey = Annotated[str | None, typer.Option(help="Only this account (the record key).")]
Since = Annotated[str | None, typer.Option(help="Failed at or after: RFC 3339, or a span back like 6h, 7d.")]
Until = Annotated[str | None, typer.Option(help="Failed before: RFC 3339, or a span back like 1h.")]
Limit = Annotated[int | None, typer.Option(min=1, help="At most this many dead letters.")]


@dlq_app.command("list")
def dlq_list(ctx: typer.Context, source_topic: SourceTopic = None, kind: ErrorKind = None, service: FromService = None,
             account: AccountKey = None, since: Since = None, until: Until = None, limit: Limit = None,
             json: JsonOption = False) -> None:
    """The dead letters on the DLQ topic with their reason and where they came from."""
    config = config_of(ctx)
    filters = _filters(source_topic, kind, service, account, since, until)
    letters = run_async(dlq_cmd.dead_letters(config, filters, limit=limit))
    print_json(letters) if json else dlq_cmd.print_letters(letters)


@dlq_app.command("replay")
def dlq_replay(
    ctx: typer.Context, source_topic: SourceTopic = None, kind: ErrorKind = None, service: FromService = None,
    account: AccountKey = None, since: Since = None, until: Until = None, limit: Limit = None,
    to: Annotated[dlq_cmd.Target, typer.Option(help="raw: the raw ingest topic; http: POST /v1/events (a reply "
                                               "per event); source: back to the topic each failed on (a "
                                               "downstream service's dead letters, after its fix).")] = "raw",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be re-sent; send nothing.")] = False,
    json: JsonOption = False,
) -> None:
    """Re-send matching dead letters' original bytes; safe to repeat (the events keep their ids)."""
    config = config_of(ctx)
    filters = _filters(source_topic, kind, service, account, since, until)

    async def work() -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        letters = await dlq_cmd.dead_letters(config, filters, limit=limit)
        if dry_run or not letters:
            return letters, None
        async with connect(config) as api:
            return letters, await dlq_cmd.replay(config, api, letters, target=to, show_progress=not json)

    letters, result = run_async(work())
    if json:
        print_json({"dry_run": dry_run, "dead_letters": letters} if result is None else result)
    elif result is None:
        dlq_cmd.print_letters(letters)
        if letters:
            out.print(f"Dry run: {len(letters)} dead letters would be re-sent to the "
                      f"{'raw topic' if to == 'raw' else 'ingest API' if to == 'http' else 'topics they failed on'}.")
    else:
        dlq_cmd.print_replay(result)
    if result is not None and (result["skipped"] or result.get("rejected")):
        raise typer.Exit(EXIT_FAILED)


@app.command()
def report(
    ctx: typer.Context,
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the HTML file.")]
    = Path("orchard-report.html"),
    backtest: Annotated[Path | None, typer.Option(help="Backtest figures: a JSON file or a backtest --out folder. "
                                                  "Default: bench/results/signal_quality.json or "
                                                  "backtest-out/backtest.json if present.")] = None,
    json: JsonOption = False,
) -> None:
    """Write the self-contained HTML report (one file, opens offline); exit 1 if a service could not answer."""
    config = config_of(ctx)

    async def work() -> tuple[Path, dict[str, str]]:
        async with connect(config) as api:
            data = await collect_report_data(api, now=datetime.now(UTC), backtest=backtest)
        return await asyncio.to_thread(write_report, out_path, data), data.problems

    path, problems = run_async(work())
    if json:
        print_json({"path": str(path), "problems": problems})
    else:
        for section, problem in problems.items():
            err.print(f"[yellow]{section}[/]: {problem}", markup=True, highlight=False)
        out.print(f"report written to {path}")
    if problems:
        raise typer.Exit(EXIT_FAILED)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                               "help_option_names": []}, add_help_option=False)
def backtest(ctx: typer.Context) -> None:
    """Judge the health score on an event history: `python -m services.health.backtest` with these arguments
    (try `orchard backtest --help`)."""
    raise typer.Exit(_run_module("services.health.backtest", ctx.args))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                               "help_option_names": []}, add_help_option=False)
def calibrate(ctx: typer.Context) -> None:
    """Fit the scorecards to an event history and propose them (changes nothing):
    `python -m services.health.backtest.calibrate` with these arguments (try `orchard calibrate --help`)."""
    raise typer.Exit(_run_module("services.health.backtest.calibrate", ctx.args))


def _run_module(module: str, args: list[str]) -> int:
    if importlib.util.find_spec(module) is None:
        err.print(f"error: not available in this version of Orchard (no {module} module)", markup=False)
        return EXIT_FAILED
    return subprocess.call([sys.executable, "-m", module, *args])


@app.command()
def simulate(
    ctx: typer.Context,
    accounts: Annotated[int, typer.Option(min=1, help="Accounts (the stories repeat every 8).")] = 24,
    days: Annotated[int, typer.Option(min=1, help="Days of history before now.")] = 120,
    seed: Annotated[int, typer.Option()] = 7,
    prefix: Annotated[str, typer.Option(help="Put before every account and event id (distinct runs).")] = "",
    now: Annotated[str | None, typer.Option(help="The sample's present (RFC 3339); default: now.")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write JSON Lines here ('-': stdout).")] = None,
    send_events: Annotated[bool, typer.Option("--send", help="Send to ingest instead of writing a file.")] = False,
    rate: Annotated[float | None, typer.Option(min=0.1, help="Events per second when sending; default: as fast "
                                               "as ingest takes them.")] = None,
    json: JsonOption = False,
) -> None:
    """The demo's realistic sample (stories: steady, usage collapse, champion left, ...), any size."""
    if (out_file is None) == (not send_events):
        raise typer.BadParameter("give --out FILE (or --out - for stdout), or --send")
    config = config_of(ctx)
    try:
        present = dlq_cmd.parse_moment(now, now=datetime.now(UTC)) if now else datetime.now(UTC)
    except CliError as exc:
        raise typer.BadParameter(exc.message, param_hint="--now") from None
    events = simulate_cmd.sample_events(now=present, accounts=accounts, days=days, seed=seed, prefix=prefix)
    if out_file is not None:
        if str(out_file) == "-":
            simulate_cmd.write_jsonl(events, sys.stdout.buffer)
        else:
            with out_file.open("wb") as stream:
                simulate_cmd.write_jsonl(events, stream)
            note(f"{len(events):,} events for {accounts} accounts written to {out_file}")
        return

    async def work() -> send_cmd.SendSummary:
        async with connect(config) as api:
            return await send_cmd.send_lines(api, simulate_cmd.as_lines(events), total=len(events), rate=rate,
                                             show_progress=not json)

    summary = run_async(work())
    print_json(summary.to_json()) if json else send_cmd.print_summary(summary, source="the sample")
    if summary.rejected:
        raise typer.Exit(EXIT_FAILED)


def run() -> None:
    """The console script's entry point."""
    app()

