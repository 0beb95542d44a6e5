"""The report as one HTML file: sections of tables and charts, plotly.js inlined (no network), and
every piece of text from the services escaped."""

from __future__ import annotations

import html
import importlib.resources
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cli.report import charts, figures
from cli.report.figures import Json, ReportData

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:20px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#b8c0d0}main{padding:16px 32px 48px;max-width:1280px}
section{background:#fff;border-radius:8px;padding:16px 20px;margin:16px 0;box-shadow:0 1px 2px rgba(0,0,0,.06)}
h2{font-size:17px;margin:0 0 10px}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px}
.kpis{display:flex;flex-wrap:wrap;gap:12px}.kpi{background:#fff;border-radius:8px;padding:12px 16px;min-width:150px;
box-shadow:0 1px 2px rgba(0,0,0,.06)}.kpi b{display:block;font-size:22px}.kpi span{color:#5a6478;font-size:12px}
table{border-collapse:collapse;width:100%;margin-top:8px}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid
#e6e8ee;vertical-align:top}th{font-size:12px;color:#5a6478;font-weight:600}td.num{text-align:right;white-space:nowrap}
.g-green{color:#2e9d5b;font-weight:600}.g-yellow{color:#b38f00;font-weight:600}.g-red{color:#d64545;font-weight:600}
.r-critical,.r-high{color:#d64545;font-weight:600}.r-medium{color:#b38f00}.r-low{color:#2e9d5b}
.note{color:#5a6478}.problem{background:#fff4e5;border-left:4px solid #e0a000;padding:8px 12px;margin:6px 0}
ul.reasons{margin:0;padding-left:16px}.spark{width:160px;height:36px}td:first-child{white-space:nowrap}
"""

SCRIPT = """
(function () {
  var specs = JSON.parse(document.getElementById('orchard-charts').textContent);
  var drawn = Object.keys(specs).map(function (id) {
    var spec = specs[id];
    var config = {displaylogo: false, displayModeBar: false, responsive: !spec.static, staticPlot: !!spec.static};
    return Plotly.newPlot(id, spec.data, spec.layout, config);
  });
  Promise.all(drawn).then(function () { document.body.setAttribute('data-charts-drawn', String(drawn.length)); });
})();
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def plotly_js() -> str:
    """plotly.js as shipped inside the plotly package (the build its Python API was made for)."""
    return (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


def script_json(value: Any) -> str:
    """JSON that cannot end the <script> element it sits in, whatever its strings hold."""
    text = json.dumps(value, separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def money(value: Any, currency: str | None = None) -> str:
    return f"{figures.amount(value):,.0f}" + (f" {esc(currency)}" if currency else "")


def percent(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f}%"


class Page:
    def __init__(self) -> None:
        self.charts: dict[str, charts.Chart] = {}

    def chart(self, spec: charts.Chart, *, css: str = "chart") -> str:
        chart_id = f"chart-{len(self.charts) + 1}"
        self.charts[chart_id] = spec
        return f'<div class="{css}" id="{chart_id}"></div>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Sequence[int] = ()) -> str:
    """Cells are HTML already (escaped by the caller); headers are escaped here."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="num">{c}</td>' if n in numeric else f"<td>{c}</td>"
                                    for n, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def grade(value: Any) -> str:
    return f'<span class="g-{esc(value)}">{esc(value)}</span>' if value else "–"


def risk(value: Any) -> str:
    return f'<span class="r-{esc(value)}">{esc(value)}</span>' if value else "–"


def _problem(data: ReportData, *names: str) -> str:
    return "".join(f'<p class="problem">{esc(name)}: {esc(data.problems[name])}</p>'
                   for name in names if name in data.problems)


def _kpis(data: ReportData, at_risk_renewals: list[Json], pipe: figures.Pipeline) -> str:
    counts = figures.grade_counts(data.accounts)
    at_risk_arr = figures.arr_by_currency(at_risk_renewals)
    tiles = [(str(len(data.accounts)), "accounts scored"),
             (f"{counts['red']} / {counts['yellow']} / {counts['green']}", "red / yellow / green"),
             (", ".join(money(v, c) for c, v in at_risk_arr.items()) or "0", "ARR renewing in 120 days at risk"),
             (f"{money(pipe.open_uplift)}", f"open pipeline uplift / yr ({pipe.open_count} opportunities)")]
    latest = next((r for r in reversed(data.retention) if r.get("by_currency")), None)
    if latest is not None:
        c = latest.get("consolidated") or latest["by_currency"][0]
        whole = "all currencies in " if latest.get("consolidated") else ""
        tiles.append((f"{percent(c.get('grr'))} / {percent(c.get('nrr'))}",
                      f"GRR / NRR {esc(latest['period'])} ({whole}{esc(c['currency'])})"))
    return '<div class="kpis">' + "".join(f'<div class="kpi"><b>{v}</b><span>{label}</span></div>'
                                          for v, label in tiles) + "</div>"


def _health(page: Page, data: ReportData) -> str:
    if not data.accounts:
        return (f"<section><h2>Health of the book</h2>{_problem(data, 'health')}<p class=note>No account scored "
                "yet.</p></section>")
    days = figures.report_days(data.generated_at, 90)
    trend = figures.grade_trend(data.accounts, data.histories, days)
    return ("<section><h2>Health of the book</h2>" + _problem(data, "health", "history") +
            '<div class="grid"><div><h3>Grades now</h3>' +
            page.chart(charts.grade_distribution(figures.grade_counts(data.accounts))) +
            "</div><div><h3>Grades over the last 90 days</h3>" + page.chart(charts.grade_trend(days, trend)) +
            "</div></div></section>")


def _at_risk(page: Page, data: ReportData) -> str:
    rows = []
    for h in data.at_risk:
        times, scores = figures.score_series(data.histories.get(h["account_id"], []), h)
        reasons = "".join(f"<li>{esc(r['detail'])} <span class=note>({r['delta']:+.1f})</span></li>"
                          for r in (h.get("reasons") or [])[:3])
        renewal = (f"in {esc(h['days_to_renewal'])} days<br>{money(h.get('arr'), h.get('currency'))}"
                   if h.get("days_to_renewal") is not None else "–")
        rows.append([esc(h["account_id"]), esc(h.get("segment")), f"{h['score']:.1f}",
                     grade((h.get("effective") or {}).get("grade") or h["grade"]),
                     page.chart(charts.sparkline(times, scores, h["grade"]), css="chart spark"),
                     f'<ul class="reasons">{reasons}</ul>', renewal])
    body = (table(["account", "segment", "score", "grade", "score over 90 days", "why", "renewal"], rows,
                  numeric=[2]) if rows else "<p class=note>No red or yellow account.</p>")
    return f"<section><h2>At-risk accounts</h2>{_problem(data, 'at_risk')}{body}</section>"


def _renewals(page: Page, data: ReportData, at_risk: list[Json]) -> str:
    if not at_risk:
        return (f"<section><h2>Renewals at risk</h2>{_problem(data, 'renewals')}<p class=note>No renewal due within "
                "120 days is at medium risk or worse.</p></section>")
    rows = [[esc(r["account_id"]), esc(r["renewal_date"]), esc(r["days_to_renewal"]), money(r["arr"], r["currency"]),
             risk(r["risk"]), esc(r["stage"]), esc((r.get("risk_reasons") or [{}])[0].get("detail"))] for r in at_risk]
    return ("<section><h2>Renewals at risk (due within 120 days)</h2>" + page.chart(charts.renewals_at_risk(at_risk))
            + table(["account", "renews on", "days left", "ARR", "risk", "stage", "why"], rows, numeric=[2, 3])
            + "</section>")


def _forecast(page: Page, data: ReportData) -> str:
    currencies = sorted({c["currency"] for f in data.forecasts for c in f.get("by_currency", [])})
    if not currencies:
        return (f"<section><h2>Renewal forecast</h2>{_problem(data, 'forecast')}<p class=note>No renewal falls in "
                f"{esc(', '.join(figures.forecast_periods(data.generated_at)))}.</p></section>")
    rows = []
    for f in data.forecasts:
        rows += [[esc(f["period"]), esc(c["currency"]), esc(c["total"]["renewals"]), money(c["total"]["arr"]),
                  money(c["total"]["expected_arr"])] for c in f.get("by_currency", [])]
        if (total := f.get("consolidated")) is not None:
            rows.append([esc(f["period"]), f"all in {esc(total['currency'])}", esc(total["renewals"]),
                         money(total["arr"]), money(total["expected_arr"])])
    drawn = "".join(page.chart(charts.forecast(data.forecasts, c)) for c in currencies)
    return ("<section><h2>Renewal forecast by risk band</h2><p class=note>Pale: ARR up for renewal; solid: expected "
            "ARR (each band's probability applied; renewals already renewed count whole, churned ones nothing).</p>"
            + drawn
            + table(["period", "currency", "renewals", "up for renewal", "expected"], rows, numeric=[2, 3, 4])
            + _basis(data.forecasts[-1] if data.forecasts else None) + "</section>")


def _pipeline(page: Page, data: ReportData, pipe: figures.Pipeline) -> str:
    if not data.opportunities:
        return (f"<section><h2>Expansion pipeline</h2>{_problem(data, 'expansion')}<p class=note>No opportunity "
                "yet.</p></section>")
    top = sorted((o for o in data.opportunities if o.get("stage") in figures.OPEN_STAGES),
                 key=lambda o: -figures.amount(o.get("estimated_arr_uplift")))[:15]
    rows = [[esc(o["account_id"]), esc(o["kind"]), esc(o.get("product")), esc(o["stage"]),
             money(o.get("estimated_arr_uplift")), f"{o.get('confidence', 0):.2f}", esc(o.get("reason"))] for o in top]
    return ("<section><h2>Expansion pipeline</h2><p class=note>Estimated ARR uplift by stage and kind; "
            f"{pipe.open_count} open opportunities worth {money(pipe.open_uplift)} a year.</p>"
            + page.chart(charts.pipeline(pipe)) + _weighted(data) + "<h3>Largest open opportunities</h3>"
            + table(["account", "kind", "product", "stage", "uplift / yr", "confidence", "why"], rows, numeric=[4, 5])
            + "</section>")


def _basis(report: Json | None) -> str:
    """How a report's currencies were consolidated, or why they were not (only said when it has several)."""
    if report is None or len(report.get("by_currency") or []) < 2:
        return ""
    return f"<p class=note>{esc((report.get('consolidation') or {}).get('reason'))}</p>"


def _weighted(data: ReportData) -> str:
    """Expansion's weighted pipeline: each open stage's uplift x its weight, per currency."""
    p = data.weighted_pipeline
    if not p or not p.get("by_currency"):
        return _problem(data, "pipeline")
    rows = []
    for c in p["by_currency"]:
        rows += [[esc(stage), esc(c["currency"]), esc(b["opportunities"]), money(b["arr"]), esc(b.get("weight")),
                  money(b["expected_arr"])] for stage, b in c.get("by_stage", {}).items()]
        rows.append(["all open", esc(c["currency"]), esc(c["total"]["opportunities"]), money(c["total"]["arr"]), "",
                     money(c["total"]["expected_arr"])])
    if (whole := p.get("consolidated")) is not None:
        rows.append(["all open", f"all in {esc(whole['currency'])}", "", money(whole["arr"]), "",
                     money(whole["expected_arr"])])
    return ("<h3>Weighted pipeline (uplift x the stage's weight)</h3>"
            + table(["stage", "currency", "opportunities", "uplift / yr", "weight", "weighted"], rows,
                    numeric=[2, 3, 4, 5]) + _basis(p))


def _retention(page: Page, data: ReportData) -> str:
    currencies = sorted({c["currency"] for r in data.retention for c in r.get("by_currency", [])})
    if not currencies:
        return (f"<section><h2>Retention (GRR / NRR)</h2>{_problem(data, 'retention')}<p class=note>No account was "
                "active at the start of the last four quarters.</p></section>")
    rows = []
    for r in data.retention:
        totals = [(esc(c["currency"]), esc(c["starting_accounts"]), c) for c in r.get("by_currency", [])]
        if (whole := r.get("consolidated")) is not None:
            totals.append((f"all in {esc(whole['currency'])}", esc(r["starting_accounts"]), whole))
        rows += [[esc(r["period"]), name, accounts, money(c["starting_arr"]), money(c["churned_arr"]),
                  money(c["contraction_arr"]), money(c["expansion_arr"]), percent(c.get("grr")), percent(c.get("nrr"))]
                 for name, accounts, c in totals]
    return ("<section><h2>Retention (GRR / NRR), last four quarters</h2>"
            + "".join(page.chart(charts.retention(data.retention, c)) for c in currencies)
            + table(["quarter", "currency", "accounts", "starting ARR", "churned", "contraction", "expansion", "GRR",
                     "NRR"], rows, numeric=list(range(2, 9)))
            + _basis(data.retention[-1]) + f"<p class=note>{esc(data.retention[0].get('definitions'))}</p></section>")


def _signal(page: Page, data: ReportData) -> str:
    rows = figures.signal_rows(data.backtest) if data.backtest is not None else []
    if not rows:
        where = f" ({esc(data.backtest_path)} holds no figures the report knows)" if data.backtest_path else ""
        return ("<section><h2>Signal quality</h2>" + _problem(data, "signal_quality") +
                f"<p class=note>No backtest yet{where}: <code>orchard backtest --events FILE --out DIR</code> "
                "judges the health score on an event history; <code>orchard report --backtest DIR</code> "
                "shows it here.</p></section>")
    cells = [[esc(r[c]) if not isinstance(r[c], float) else f"{r[c]:.3g}" for c in figures.SIGNAL_COLUMNS]
             for r in rows]
    return (f"<section><h2>Signal quality (backtest)</h2><p class=note>From {esc(data.backtest_path)}: does the "
            "score rank the accounts that went on to churn, and are its alerts followed by churn?</p>"
            + page.chart(charts.signal_quality(rows)) + table(list(figures.SIGNAL_COLUMNS), cells,
                                                              numeric=list(range(1, 10))) + "</section>")


def render_report(data: ReportData) -> str:
    page = Page()
    at_risk = figures.renewals_at_risk(data.renewals)
    pipe = figures.pipeline(data.opportunities)
    sections = [_health(page, data), _at_risk(page, data), _renewals(page, data, at_risk), _forecast(page, data),
                _pipeline(page, data, pipe), _retention(page, data), _signal(page, data)]
    generated = data.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Orchard report {esc(generated)}'
            f'</title><meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style>'
            f"<script>{plotly_js()}</script></head><body><header><h1>Orchard: the book of accounts</h1>"
            f"<p>Generated {esc(generated)} from the health, renewals and expansion services.</p></header><main>"
            + _kpis(data, at_risk, pipe) + "".join(sections) +
            f'</main><script type="application/json" id="orchard-charts">{script_json(page.charts)}</script>'
            f"<script>{SCRIPT}</script></body></html>")


def write_report(path: Path, data: ReportData) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(data), encoding="utf-8")
    return path.resolve()

