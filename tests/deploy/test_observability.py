"""The Grafana dashboard and the Prometheus alerting rules in deploy/observability use only metrics (and
labels) that the services export: every expression is parsed as PromQL, and each series it selects is
looked up in the registry the services fill when their modules are imported."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY

from tests.infra import REPO

pytestmark = pytest.mark.unit

OBSERVABILITY = REPO / "deploy" / "observability"
SERVICE_MODULES = ("services.ingest.__main__", "services.health.__main__", "services.renewals.__main__",
                   "services.expansion.__main__")
SCRAPE_LABELS = {"job", "instance"}  # added by Prometheus to every series it scrapes
SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum", "_created")}
# Grafana's variables, replaced by values of the right kind so that the expression parses as PromQL.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$service": ".*"}


@dataclass(frozen=True)
class Selected:
    where: str
    series: str
    labels: frozenset[str]


def exported() -> dict[str, set[str]]:
    """Every series name the services expose, with the label names it may carry."""
    for module in SERVICE_MODULES:
        importlib.import_module(module)
    series: dict[str, set[str]] = {}
    # The registry keeps the collectors by name; their label names are not part of the public API.
    for collector in set(REGISTRY._names_to_collectors.values()):
        kind = getattr(collector, "_type", None)
        if kind not in SUFFIXES:
            continue  # process and platform collectors: not used here
        labels = set(collector._labelnames) | SCRAPE_LABELS  # type: ignore[attr-defined]
        for suffix in SUFFIXES[kind]:
            extra = {"le"} if suffix == "_bucket" else set()
            series[collector._name + suffix] = labels | extra  # type: ignore[attr-defined]
    return series


def selections(where: str, expression: str) -> Iterator[Selected]:
    for variable, value in GRAFANA_VARIABLES.items():
        expression = expression.replace(variable, value)
    assert "$" not in re.sub(r"\{\{.*?\}\}", "", expression), f"{where}: unknown Grafana variable in {expression}"
    found: list[Selected] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(Selected(where, node.name or "(no name)", frozenset(m.name for m in node.matchers.matchers)))
        return True

    promql_parser.walk(promql_parser.parse(expression), visit)
    assert found, f"{where}: selects no series: {expression}"
    yield from found


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())

    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield f"dashboard panel {panel['title']!r}", target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            inner = re.fullmatch(r"label_values\((\w+), *(\w+)\)", variable["definition"])
            assert inner, variable["definition"]
            yield f"dashboard variable {variable['name']}", f"{inner[1]}{{{inner[2]}!=\"\"}}"


def rule_expressions() -> Iterator[tuple[str, str]]:
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield f"rule {rule['alert']}", rule["expr"]


def unknown(expressions: Iterator[tuple[str, str]], series: dict[str, set[str]]) -> list[str]:
    problems = []
    for where, expression in expressions:
        for selected in selections(where, expression):
            if selected.series not in series:
                problems.append(f"{where}: {selected.series} is not exported")
            elif missing := selected.labels - series[selected.series]:
                problems.append(f"{where}: {selected.series} has no label {sorted(missing)}")
    return problems


def test_every_series_and_label_the_dashboard_uses_is_exported() -> None:
    assert len(list(dashboard_expressions())) >= 15
    assert unknown(dashboard_expressions(), exported()) == []


def test_every_series_and_label_the_alerting_rules_use_is_exported() -> None:
    assert len(list(rule_expressions())) >= 10
    assert unknown(rule_expressions(), exported()) == []


def test_the_check_finds_a_misspelt_metric_and_a_label_it_does_not_have() -> None:
    series = exported()
    assert unknown(iter([("x", 'rate(orchard_events_consumd_total[5m])')]), series) == [
        "x: orchard_events_consumd_total is not exported"]
    assert unknown(iter([("x", 'orchard_consumer_lag{shard="1"}')]), series) == [
        "x: orchard_consumer_lag has no label ['shard']"]


def test_the_issue_s_operational_metrics_are_all_on_the_dashboard_and_alerted_on() -> None:
    on_dashboard = {s.series for where, e in dashboard_expressions() for s in selections(where, e)}
    alerted = {s.series for where, e in rule_expressions() for s in selections(where, e)}
    for needed in ("orchard_consumer_lag", "orchard_event_age_seconds_bucket", "orchard_alerts_total",
                   "orchard_health_rescore_passes_total", "orchard_outbox_pending"):
        assert needed in on_dashboard, needed
        assert needed in alerted, needed
    assert "orchard_health_rescore_seconds_bucket" in on_dashboard


def test_alerting_rules_are_well_formed() -> None:
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())
    names = [rule["alert"] for group in rules["groups"] for rule in group["rules"]]
    assert len(names) == len(set(names))
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule["alert"]
            assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]
            if "for" in rule:
                promql_parser.parse_duration(rule["for"])
