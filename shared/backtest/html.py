"""The backtest report as one self-contained HTML page: tables and charts drawn as inline SVG.

Inline SVG rather than a charting library: the page must open with no network, stay small enough to
attach to a ticket, and render the same everywhere; four simple charts do not need 3 MB of script.
Every piece of text from the data (names, kinds, segments) is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

COLOURS = {"score": "#c0392b", "baseline": "#2471a3", "events_30d": "#7d8c8d",
           "green": "#27ae60", "yellow": "#d4ac0d", "red": "#c0392b"}
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:1.5rem}
figure{margin:0}figcaption{font-size:.9rem;color:#555}svg text{font-size:11px;fill:#333}
"""


def render_page(report: Mapping[str, Any], *, title: str) -> str:
    ranking, alerts = report.get("ranking", {}), report.get("alerts", {})
    auc = ranking.get("auc", {})
    charts = [
        _figure("ROC: churn within 90 days, by risk", _roc_chart(ranking.get("roc", {}))),
        _figure("Churn rate within 90 days by grade",
                _bars([(g, row.get("rate") or 0.0, COLOURS.get(g, "#888"))
                       for g, row in ranking.get("grades", {}).items()], percent=True)),
        _figure("Alert precision by kind (followed by churn or contraction within 120 days)",
                _bars([(k, row.get("precision") or 0.0, "#8e44ad")
                       for k, row in alerts.get("precision_by_kind", {}).items()], percent=True)),
        _figure("Lead time: days from the first alert to the churn",
                _bars([(f"{h['from']:g}-{h['to']:g}", float(h["count"]), "#16a085")
                       for h in alerts.get("lead_days", {}).get("histogram", [])], percent=False)),
    ]
    headline = {
        "snapshots judged": ranking.get("snapshots"), "accounts": ranking.get("accounts"),
        "churn rate (90 days)": ranking.get("churn_rate"), "AUC score": auc.get("score"),
        "AUC baseline (logistic, grouped CV)": auc.get("baseline"), "AUC events in last 30 days": auc.get("events_30d"),
        "AUC score - baseline, 90% interval (accounts resampled)":
            ranking.get("auc_interval_90", {}).get("score_minus_baseline"),
        "alerts per account per quarter": alerts.get("per_account_quarter"),
        "alert precision": alerts.get("precision", {}).get("precision"),
        "churners alerted 30-120 days ahead": alerts.get("recall", {}).get("recall"),
        "... or with an earlier alert still open 30 days ahead": alerts.get("recall", {}).get("recall_with_open"),
        "median lead (days)": alerts.get("lead_days", {}).get("median"),
    }
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>",
        _key_values(headline), "<div class=charts>", *charts, "</div>",
        "<h2>Churn by grade</h2>", _table(["grade", "n", "churned", "rate", "lift"], ranking.get("grades", {})),
        "<h2>Components (AUC of 100 - component, where measured)</h2>",
        _table(["component", "auc", "measured", "coverage"], ranking.get("components", {})),
        "<h2>Measures inside the components (AUC of 100 - measure, where measured)</h2>",
        _table(["measure", "auc", "measured", "coverage"], ranking.get("parts", {})),
        "<h2>Segments</h2>",
        _table(["segment", "snapshots", "churned", "churn_rate", "auc_score", "auc_baseline", "auc_events_30d"],
               ranking.get("segments", {})),
        "<h2>By kind of snapshot</h2>",
        _table(["kind", "snapshots", "churned", "churn_rate", "auc_score", "auc_baseline", "auc_events_30d"],
               ranking.get("snapshot_kinds", {})),
        "<h2>Alerts by kind</h2>",
        _table(["kind", "raised", "judgeable", "followed", "precision"], alerts.get("precision_by_kind", {})),
        *_ceiling(report.get("alert_ceiling")),
        "<h2>Data set and settings</h2>", _key_values({**report.get("dataset", {}), **report.get("settings", {})}),
        "</body></html>",
    ]
    return "".join(parts)


def _ceiling(ceiling: Mapping[str, Any] | None) -> list[str]:
    """What the book allows an alert to do (shared/backtest/ceiling.py), when it was measured."""
    if not ceiling:
        return []
    f = ceiling["frontier"]
    rows = {name: point for name, point in (
        ("best precision with recall >= 0.7", f["best_precision_at_recall"]),
        ("best recall with precision >= 1/3", f["best_recall_at_precision"]),
        ("best recall at <= 0.5 alerts per account-quarter", f["best_recall_within_rate"]),
    ) if point is not None}
    return ["<h2>What this book allows: alerts from a usage model fitted to its outcomes (in sample)</h2>",
            _table(["at the threshold with", "per_account_quarter", "precision", "recall_30d", "threshold"], rows),
            _key_values({"one threshold meets all three bars": "yes" if f["meets_all"] else "no"})]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return escape(f"{value:.4g}")
    if isinstance(value, Mapping | list):
        return escape(", ".join(f"{k}: {v}" for k, v in value.items()) if isinstance(value, Mapping)
                      else ", ".join(map(str, value)))
    return escape("—" if value is None else str(value))


def _key_values(values: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{_cell(v)}</td></tr>" for k, v in values.items())
    return f"<table>{rows}</table>"


def _table(columns: Sequence[str], rows: Mapping[str, Mapping[str, Any]]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        f"<tr><td>{escape(str(name))}</td>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns[1:])
        + "</tr>" for name, row in rows.items())
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(caption: str, svg: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


_W, _H, _PAD = 420, 300, 40


def _roc_chart(curves: Mapping[str, Sequence[Sequence[float]]]) -> str:
    size = _H - 2 * _PAD

    def xy(fpr: float, tpr: float) -> str:
        return f"{_PAD + fpr * size:.1f},{_H - _PAD - tpr * size:.1f}"

    lines = [f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_PAD + size}" y2="{_PAD}" stroke="#bbb" stroke-dasharray="4"/>',
             f'<rect x="{_PAD}" y="{_PAD}" width="{size}" height="{size}" fill="none" stroke="#999"/>',
             f'<text x="{_PAD + size / 2}" y="{_H - 8}" text-anchor="middle">false positive rate</text>',
             f'<text x="10" y="{_H / 2}" transform="rotate(-90 10 {_H / 2})" text-anchor="middle">'
             'true positive rate</text>']
    for n, (name, points) in enumerate(curves.items()):
        if not points:
            continue
        colour = COLOURS.get(name, "#444")
        path = " ".join(xy(p[0], p[1]) for p in points)
        lines.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        lines.append(f'<text x="{_PAD + size + 8}" y="{_PAD + 14 + 16 * n}" fill="{colour}" '
                     f'style="fill:{colour}">{escape(name)}</text>')
    return f'<svg width="{_W}" height="{_H}" role="img">{"".join(lines)}</svg>'


def _bars(bars: Sequence[tuple[str, float, str]], *, percent: bool) -> str:
    if not bars:
        return f'<svg width="{_W}" height="{_H}"><text x="{_PAD}" y="{_H / 2}">no data</text></svg>'
    highest = max(v for _, v, _ in bars)
    top = (max(0.05, highest) if percent else max(1.0, highest)) * 1.1
    inner_w, inner_h = _W - 2 * _PAD, _H - 2 * _PAD - 30
    slot = inner_w / len(bars)
    parts = [f'<line x1="{_PAD}" y1="{_PAD + inner_h}" x2="{_PAD + inner_w}" y2="{_PAD + inner_h}" stroke="#999"/>']
    for i, (label, value, colour) in enumerate(bars):
        h = inner_h * value / top
        x = _PAD + i * slot + slot * 0.15
        shown = f"{100 * value:.1f}%" if percent else f"{value:g}"
        parts.append(f'<rect x="{x:.1f}" y="{_PAD + inner_h - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{_PAD + inner_h - h - 4:.1f}" '
                     f'text-anchor="middle">{escape(shown)}</text>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{_PAD + inner_h + 14}" text-anchor="start" '
                     f'transform="rotate(25 {x + slot * 0.35:.1f} {_PAD + inner_h + 14})">{escape(label)}</text>')
    return f'<svg width="{_W}" height="{_H}" role="img">{"".join(parts)}</svg>'
