"""Plotly chart specifications (``{"data": [...], "layout": {...}}``) for the report's figures.
Plain dictionaries: the page hands them to plotly.js, which draws them in the browser."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from cli.report.figures import GRADES, Json, Pipeline, amount

Chart = dict[str, Any]

GRADE_COLOURS = {"green": "#2e9d5b", "yellow": "#e0b300", "red": "#d64545"}
RISK_COLOURS = {"critical": "#8b1e1e", "high": "#d64545", "medium": "#e0b300", "low": "#2e9d5b"}
OUTCOME_COLOURS = {"renewed": "#4c78a8", "committed": "#72b7b2", "churned": "#555555"}
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d", "#72b7b2", "#eeca3b", "#ff9da6")
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}


def _layout(**extra: Any) -> Json:
    return {"font": FONT, "margin": {"l": 56, "r": 16, "t": 16, "b": 48}, "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)", "legend": {"orientation": "h", "y": -0.2}, **extra}


def grade_distribution(counts: Mapping[str, int]) -> Chart:
    return {"data": [{"type": "bar", "x": list(GRADES), "y": [counts.get(g, 0) for g in GRADES],
                      "marker": {"color": [GRADE_COLOURS[g] for g in GRADES]},
                      "text": [counts.get(g, 0) for g in GRADES],
                      "textposition": "auto", "hovertemplate": "%{x}: %{y} accounts<extra></extra>"}],
            "layout": _layout(yaxis={"title": {"text": "accounts"}, "rangemode": "tozero"}, height=280)}


def grade_trend(days: Sequence[date], trend: Mapping[str, Sequence[int]]) -> Chart:
    x = [d.isoformat() for d in days]
    return {"data": [{"type": "scatter", "mode": "lines", "stackgroup": "grades", "name": g, "x": x,
                      "y": list(trend[g]), "line": {"color": GRADE_COLOURS[g], "width": 1},
                      "hovertemplate": f"%{{x}}: %{{y}} {g}<extra></extra>"} for g in GRADES],
            "layout": _layout(yaxis={"title": {"text": "accounts"}, "rangemode": "tozero"}, height=280)}


def sparkline(times: Sequence[str], scores: Sequence[float], grade: str | None) -> Chart:
    colour = GRADE_COLOURS.get(grade or "", "#555")
    return {"data": [{"type": "scatter", "mode": "lines", "x": list(times), "y": list(scores), "line":
                      {"color": colour, "width": 1.5, "shape": "hv"}, "fill": "tozeroy",
                      "fillcolor": "rgba(120,120,120,0.08)", "hoverinfo": "skip"}],
            "layout": {"margin": {"l": 0, "r": 0, "t": 2, "b": 2}, "height": 36, "width": 160, "showlegend": False,
                       "xaxis": {"visible": False}, "yaxis": {"visible": False, "range": [0, 100]},
                       "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"},
            "static": True}


def renewals_at_risk(rows: Sequence[Json]) -> Chart:
    labels = [f"{r['account_id']} · {r['days_to_renewal']}d" for r in rows]
    return {"data": [{"type": "bar", "orientation": "h", "y": labels, "x": [float(amount(r.get("arr"))) for r in rows],
                      "marker": {"color": [RISK_COLOURS.get(r.get("risk", ""), "#999") for r in rows]},
                      "customdata": [[r.get("risk"), r.get("currency"), r.get("renewal_date")] for r in rows],
                      "hovertemplate": "%{y}: %{x:,.0f} %{customdata[1]}, risk %{customdata[0]}, "
                                       "renews %{customdata[2]}<extra></extra>"}],
            "layout": _layout(xaxis={"title": {"text": "ARR up for renewal"}}, height=max(160, 28 * len(rows) + 70),
                              yaxis={"autorange": "reversed", "automargin": True}, margin={"l": 8, "r": 16, "t": 8,
                                                                                           "b": 48})}


def forecast(forecasts: Sequence[Json], currency: str) -> Chart:
    """Per period: ARR up for renewal and the expected ARR, by risk band for the pending renewals and
    by outcome for the settled ones (renewed, committed, churned), in one currency."""
    groups = [("by_risk", band, RISK_COLOURS[band]) for band in ("low", "medium", "high", "critical")]
    groups += [("by_outcome", outcome, colour) for outcome, colour in OUTCOME_COLOURS.items()
               if any(outcome in c.get("by_outcome", {}) for f in forecasts for c in f.get("by_currency", []))]
    traces = []
    for measure, opacity in (("arr", 0.45), ("expected_arr", 1.0)):
        for key, name, colour in groups:
            x, y = [], []
            for f in forecasts:
                for c in f.get("by_currency", []):
                    if c["currency"] == currency:
                        x.append([f["period"], "up for renewal" if measure == "arr" else "expected"])
                        y.append(float(amount((c.get(key, {}).get(name) or {}).get(measure))))
            traces.append({"type": "bar", "name": name, "legendgroup": name, "showlegend": measure == "arr",
                           "x": [[p for p, _ in x], [m for _, m in x]], "y": y, "opacity": opacity,
                           "marker": {"color": colour},
                           "hovertemplate": f"{name}: %{{y:,.0f}} {currency}<extra></extra>"})
    return {"data": traces, "layout": _layout(barmode="stack", height=300,
                                              yaxis={"title": {"text": f"ARR ({currency})"}})}


def pipeline(p: Pipeline) -> Chart:
    traces = [{"type": "bar", "name": kind, "x": p.stages, "y": p.uplift[kind], "customdata": p.counts[kind],
               "marker": {"color": PALETTE[n % len(PALETTE)]},
               "hovertemplate": f"{kind}, %{{x}}: %{{customdata}} opportunities, +%{{y:,.0f}}/yr<extra></extra>"}
              for n, kind in enumerate(p.kinds)]
    return {"data": traces, "layout": _layout(barmode="stack", height=300,
                                              yaxis={"title": {"text": "estimated ARR uplift / yr"}})}


def retention(rows: Sequence[Json], currency: str) -> Chart:
    periods = [r["period"] for r in rows]
    traces = []
    for measure, colour in (("grr", "#4c78a8"), ("nrr", "#54a24b")):
        values = []
        for r in rows:
            match = [c for c in r.get("by_currency", []) if c["currency"] == currency]
            values.append(None if not match or match[0].get(measure) is None else round(100 * match[0][measure], 1))
        traces.append({"type": "bar", "name": measure.upper(), "x": periods, "y": values, "marker": {"color": colour},
                       "hovertemplate": f"{measure.upper()} %{{x}}: %{{y}}%<extra></extra>"})
    return {"data": traces, "layout": _layout(barmode="group", height=260,
                                              yaxis={"title": {"text": "% of starting ARR"}, "rangemode": "tozero"})}


def signal_quality(rows: Sequence[Json]) -> Chart:
    names = [str(r.get("data_set")) for r in rows]
    traces = [{"type": "bar", "name": label, "x": names, "y": [r.get(key) for r in rows],
               "marker": {"color": colour}, "hovertemplate": f"{label} %{{x}}: %{{y}}<extra></extra>"}
              for key, label, colour in (("auc_score", "health score", "#4c78a8"),
                                         ("auc_baseline", "supervised baseline", "#f58518"),
                                         ("auc_events_30d", "30-day events", "#9d755d"))]
    return {"data": traces, "layout": _layout(barmode="group", height=300,
                                              yaxis={"title": {"text": "AUC (churn within the outcome window)"},
                                                     "range": [0, 1]})}
