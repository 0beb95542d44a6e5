"""The self-contained HTML report: ``collect`` asks the four services (read scope), ``figures``
turns their answers into tables and chart specifications (pure), ``page`` writes one HTML file with
plotly.js inlined, so it opens anywhere with no network."""

from cli.report.collect import collect_report_data
from cli.report.page import render_report, write_report

__all__ = ["collect_report_data", "render_report", "write_report"]
