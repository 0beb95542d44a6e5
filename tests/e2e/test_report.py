"""The HTML report of a simulated book, written by ``orchard report`` from the running services and
opened in a real headless chromium: no console error, no request leaves the file, every chart drawn.
A screenshot is kept in test-artefacts/ for people to look at."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.report import render_report
from cli.report.figures import ReportData
from tests.cli.conftest import drop_schemas
from tests.cli.stack import Stack, running_stack
from tests.conftest import new_unique
from tests.e2e.browser import ARTEFACTS, headless, visit
from tests.infra import Infra

pytestmark = pytest.mark.e2e

ACCOUNTS = 8  # one of each story of the sample
SIGNAL_QUALITY = {"benchmark": "signal_quality", "data_sets": [
    {"data_set": "churnsim-a", "accounts": 300, "churn_rate": 0.21, "auc_score": 0.74, "auc_baseline": 0.78,
     "auc_events_30d": 0.69, "alert_precision": 0.55, "recall_30d": 0.48, "median_lead_days": 41,
     "alerts_per_account_quarter": 0.6}]}


@pytest.fixture(scope="module")
async def book(infra: Infra, engine: AsyncEngine, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """Running services fed the sample's eight stories by ``orchard simulate --send``."""
    unique = new_unique()
    with running_stack(infra, unique, Path(tmp_path_factory.mktemp("report-logs"))) as stack:
        started = datetime.now(UTC)
        sent = stack.orchard("simulate", "--send", "--accounts", str(ACCOUNTS), "--days", "60", "--prefix",
                             f"{unique}-", "--rate", "20000", "--json", timeout=300)
        assert sent.returncode == 0, sent.stderr[-3000:]
        assert sent.json()["accepted"] > 1000 and sent.json()["rejected"] == []

        def scored_now() -> bool:
            items = stack.get("health", "/v1/accounts", limit=500).json()["items"]
            mine = [a for a in items if a["account_id"].startswith(unique)]
            # evaluated up to today: every midnight since each account's last event, silence included
            today = started.replace(hour=0, minute=0, second=0, microsecond=0)
            return len(mine) == ACCOUNTS and all(datetime.fromisoformat(a["as_of"]) >= today for a in mine)

        stack.wait("health to score every account as of now", scored_now, timeout=300)
        stack.wait("expansion's seat-limit trigger", lambda: stack.get(
            "expansion", "/v1/opportunities", kind="seat_limit").json()["items"], timeout=120)
        yield stack
    await drop_schemas(engine, stack)


async def test_the_report_renders_every_chart_offline_in_a_real_browser(book: Stack, tmp_path: Path) -> None:
    backtest = tmp_path / "signal_quality.json"
    backtest.write_text(json.dumps(SIGNAL_QUALITY))
    report = tmp_path / "report.html"

    done = book.orchard("report", "--out", str(report), "--backtest", str(backtest), "--json")

    assert done.returncode == 0, done.stderr
    assert done.json() == {"path": str(report.resolve()), "problems": {}}
    page_html = report.read_text()
    assert "<script src" not in page_html and "<link" not in page_html, "one file: nothing to fetch"
    for heading in ("Health of the book", "At-risk accounts", "Renewals at risk", "Renewal forecast by risk band",
                    "Expansion pipeline", "Retention (GRR / NRR)", "Signal quality (backtest)"):
        assert heading in page_html
    async with headless() as browser, visit(browser, report) as seen:
        await seen.page.wait_for_selector("body[data-charts-drawn]", timeout=60_000)
        charts = await seen.page.eval_on_selector_all(".chart", """nodes => nodes.map(n => ({
            id: n.id, svg: n.querySelectorAll('svg.main-svg').length, traces: n.querySelectorAll('g.trace').length,
            height: n.getBoundingClientRect().height}))""")
        ARTEFACTS.mkdir(exist_ok=True)
        await seen.page.screenshot(path=str(ARTEFACTS / "report.png"), full_page=True)
    assert seen.console_errors == [] and seen.page_errors == []
    assert all(url.startswith(("file:", "data:", "about:")) for url in seen.requests), seen.requests
    assert len(charts) >= 8, charts  # grades now, their trend, sparklines, renewals, forecast, pipeline, signal
    blank = [c for c in charts if not (c["svg"] and c["traces"] and c["height"] > 0)]
    assert blank == [], f"charts without a drawing: {blank}"


def test_the_upsell_topic_is_tailed_too(book: Stack) -> None:
    done = book.orchard("alerts", "tail", "--from-beginning", "--kind", "seat_limit", "--count", "1", "--for", "60")

    assert done.returncode == 0, done.stderr
    assert "upsell" in done.stdout and "seat_limit" in done.stdout


async def test_text_from_the_services_is_escaped_in_the_page_and_its_chart_data(tmp_path: Path) -> None:
    hostile = '<img src=x onerror="document.title=\'owned\'"></script><script>document.title="owned"</script>'
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    account = {"account_id": hostile, "segment": hostile, "score": 20.0, "grade": "red", "effective_grade": "red",
               "as_of": now.isoformat(), "arr": "1000", "currency": "USD"}
    detail = {**account, "reasons": [{"component": "usage", "delta": -30.0, "detail": hostile}],
              "effective": {"grade": "red"}, "days_to_renewal": 30}
    renewal = {"account_id": hostile, "renewal_date": "2026-12-30", "days_to_renewal": 30, "arr": "1000",
               "currency": "USD", "risk": "high", "stage": "open", "risk_reasons": [{"detail": hostile}]}
    data = ReportData(generated_at=now, accounts=[account], at_risk=[detail], renewals=[renewal],
                      opportunities=[{"account_id": hostile, "kind": hostile, "product": hostile, "stage": "open",
                                      "estimated_arr_uplift": "10", "confidence": 0.5, "reason": hostile}],
                      problems={"retention": hostile})
    page = tmp_path / "hostile.html"
    page.write_text(render_report(data))

    assert hostile not in page.read_text()
    async with headless() as browser, visit(browser, page) as seen:
        await seen.page.wait_for_selector("body[data-charts-drawn]", timeout=60_000)
        title = await seen.page.title()
        injected = await seen.page.eval_on_selector_all("img[src=x]", "nodes => nodes.length")
        shown = await seen.page.inner_text("main")
    assert title.startswith("Orchard report") and injected == 0
    assert seen.page_errors == [] and seen.console_errors == []
    assert "onerror=" in shown, "the text is shown as text"
