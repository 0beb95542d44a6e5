"""What the outbox relay counts once a Kafka transaction committed: alerts by kind and action, upsell
triggers by kind, and nothing for values that are not output events (dead letters)."""

from __future__ import annotations

import orjson
from prometheus_client import REGISTRY

from shared.metrics import observe_published

SERVICE = "unit-published-metrics"


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"service": SERVICE, **labels}) or 0.0


def _event(**fields: object) -> bytes:
    return orjson.dumps({"occurred_at": "2026-11-30T00:00:00+00:00", **fields})


def test_alerts_and_upsell_triggers_are_counted_by_kind() -> None:
    before_raised = _value("orchard_alerts_total", kind="grade_red", action="raised")
    before_resolved = _value("orchard_alerts_total", kind="grade_red", action="resolved")
    before_seat = _value("orchard_upsell_triggers_total", kind="seat_limit")
    observe_published(SERVICE, [
        ("alerts", _event(type="churn_risk.raised", kind="grade_red")),
        ("alerts", _event(type="churn_risk.resolved", kind="grade_red")),
        ("upsell", _event(type="upsell.triggered", kind="seat_limit")),
        ("upsell", _event(type="upsell.triggered", kind="seat_limit")),
        ("health", _event(type="health.changed")),
        ("dlq", b"not json at all"),
    ])
    assert _value("orchard_alerts_total", kind="grade_red", action="raised") == before_raised + 1
    assert _value("orchard_alerts_total", kind="grade_red", action="resolved") == before_resolved + 1
    assert _value("orchard_upsell_triggers_total", kind="seat_limit") == before_seat + 2
    assert _value("orchard_upsell_triggers_total", kind="None") == 0.0
