"""ExpansionSignals to and from JSON-compatible values (the `accounts.state` JSONB column).

Only str, int, None, lists and dicts with str keys: Decimal as a string, dates and datetimes as ISO
text. `signals_from_json(signals_to_json(s)) == s`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from services.expansion.domain.divergence import (
    EMPTY_DIVERGENCE,
    ArrPoint,
    DivergenceState,
    OpenDivergence,
)
from services.expansion.domain.health_gate import EMPTY_GATE, HealthGate, Held, OpenAlert
from services.expansion.domain.signals import ExpansionSignals, FeatureUse, Survey
from shared.contracts import EMPTY_HISTORY, ContractHistory, contract_event, history_from_json, history_to_json
from shared.health_reading import HealthReading


def signals_to_json(s: ExpansionSignals) -> dict[str, Any]:
    return {
        "latest_at": s.latest_at.isoformat() if s.latest_at else None,
        "contract_events": history_to_json(s.contracts),
        "users": dict(s.user_last_seen),
        "users_reported": s.users_reported,
        "features": {name: [f.product, f.last_day, f.day_mask, list(f.evidence)] for name, f in s.features.items()},
        "usage_evidence": list(s.usage_evidence),
        "nps": _survey_to_json(s.nps),
        "csat": _survey_to_json(s.csat),
        "volumes": {f: {str(d): q for d, q in days.items()} for f, days in s.volumes.items()},
        "gate": _gate_to_json(s.gate),
        "divergence": _divergence_to_json(s.divergence),
    }


def signals_from_json(doc: dict[str, Any]) -> ExpansionSignals:
    if not doc:
        return ExpansionSignals()
    return ExpansionSignals(
        latest_at=datetime.fromisoformat(doc["latest_at"]) if doc.get("latest_at") else None,
        contracts=history_from_json(doc["contract_events"]) if "contract_events" in doc
        else _contracts_stored_before(doc.get("contracts") or {}, doc.get("segment")),
        user_last_seen={u: int(d) for u, d in doc.get("users", {}).items()},
        features={
            name: FeatureUse(product, int(last_day), int(mask), tuple(evidence))
            for name, (product, last_day, mask, evidence) in doc.get("features", {}).items()
        },
        usage_evidence=tuple(doc.get("usage_evidence", ())),
        nps=_survey_from_json(doc.get("nps")),
        csat=_survey_from_json(doc.get("csat")),
        volumes={f: {int(d): float(q) for d, q in days.items()} for f, days in doc.get("volumes", {}).items()},
        gate=_gate_from_json(doc.get("gate")),
        divergence=_divergence_from_json(doc.get("divergence")),
        # State stored before the flag existed: users held means ids were reported (the best it can tell).
        users_reported=bool(doc.get("users_reported", bool(doc.get("users")))),
    )


def _contracts_stored_before(stored: dict[str, Any], segment: list[str] | None) -> ContractHistory:
    """State stored before contract events were kept held per contract the figures of its latest
    event, a cancellation date, and the segment the latest contract event named. Each contract
    becomes one signature with those figures (and that segment, so it stays the latest named), and
    its cancellation. The term's dates were not kept: expansion reads none (`committed`), so the
    signature's day stands for them."""
    events = []
    for contract_id, kept in stored.items():
        at, day = datetime.fromisoformat(kept["at"]), datetime.fromisoformat(kept["at"]).date()
        terms = {"contract_id": contract_id, "seats": kept["seats"], "products": kept["products"], "arr": kept["arr"],
                 "currency": kept["currency"], "start_date": day.isoformat(),
                 "end_date": (day + timedelta(days=1)).isoformat(), "segment": segment[2] if segment else None}
        cancelled = kept.get("cancelled_on")
        # before a cancellation it was kept with, so that it folds first
        events.append(contract_event(event_id=f"{kept['event_id']}/terms" if cancelled else kept["event_id"],
                                     event_type="contract.signed", occurred_at=at - timedelta(microseconds=1),
                                     data=terms))
        if cancelled:
            events.append(contract_event(event_id=kept["event_id"], event_type="contract.cancelled", occurred_at=at,
                                         data={"contract_id": contract_id, "end_date": cancelled}))
    return EMPTY_HISTORY.add(events)


def _survey_to_json(survey: Survey | None) -> list[Any] | None:
    return None if survey is None else [survey.score, survey.at.isoformat(), survey.event_id]


def _survey_from_json(doc: list[Any] | None) -> Survey | None:
    return None if doc is None else Survey(int(doc[0]), datetime.fromisoformat(doc[1]), str(doc[2]))


def _gate_to_json(gate: HealthGate) -> dict[str, Any] | None:
    if gate == EMPTY_GATE:
        return None  # the state of an account no health record has reached stays as it was
    g = gate.grade
    return {
        "grade": None if g is None else _reading_json(g),
        "open_alerts": {a: [o.kind, o.since.isoformat()] for a, o in gate.open_alerts.items()},
        "held": [[h.kind, h.product, h.reason, h.held_reason, h.since.isoformat(), h.as_of.isoformat(),
                  list(h.evidence_event_ids), str(h.estimated_arr_uplift), h.confidence] for h in gate.held.values()],
    }


def _gate_from_json(doc: dict[str, Any] | None) -> HealthGate:
    if not doc:
        return EMPTY_GATE
    g = doc.get("grade")
    held = [Held(kind, product, reason, held_reason, datetime.fromisoformat(since), datetime.fromisoformat(as_of),
                 tuple(evidence), Decimal(uplift), float(confidence))
            for kind, product, reason, held_reason, since, as_of, evidence, uplift, confidence in doc.get("held", ())]
    return HealthGate(
        grade=None if g is None else _reading(g),
        open_alerts={a: OpenAlert(kind, datetime.fromisoformat(since))
                     for a, (kind, since) in doc.get("open_alerts", {}).items()},
        held={(h.kind, h.product): h for h in held},
    )


def _reading_json(reading: HealthReading) -> list[Any]:
    return [reading.grade, reading.score, reading.at.isoformat(), reading.event_id, reading.previous_score,
            dict(reading.components)]


def _reading(stored: list[Any]) -> HealthReading:
    # States stored before the gate kept the whole reading hold [grade, score, at, event_id] only.
    grade, score, at, event_id, previous, components = [*stored, None, {}][:6]
    return HealthReading(score=float(score), grade=grade, previous_score=previous, at=datetime.fromisoformat(at),
                         event_id=event_id, components=tuple(sorted(components.items())))


def _divergence_to_json(state: DivergenceState) -> dict[str, Any] | None:
    if state == EMPTY_DIVERGENCE:
        return None
    o = state.open
    return {
        "arr": [[p.at.isoformat(), p.event_id, [[c, str(a)] for c, a in p.arr]] for p in state.arr],
        "readings": [_reading_json(r) for r in state.health],
        "open": None if o is None else [o.direction, o.since.isoformat(), o.episode],
        "episodes": state.episodes,
    }


def _divergence_from_json(doc: dict[str, Any] | None) -> DivergenceState:
    if not doc:
        return EMPTY_DIVERGENCE
    o = doc.get("open")
    return DivergenceState(
        arr=tuple(ArrPoint(datetime.fromisoformat(at), event_id, tuple((c, Decimal(a)) for c, a in arr))
                  for at, event_id, arr in doc.get("arr", ())),
        health=_divergence_readings(doc),
        open=None if o is None else OpenDivergence(o[0], datetime.fromisoformat(o[1]), int(o[2])),
        episodes=int(doc.get("episodes", 0)),
    )


def _divergence_readings(doc: dict[str, Any]) -> tuple[HealthReading, ...]:
    if "readings" in doc:
        return tuple(_reading(r) for r in doc["readings"])
    # States stored before divergence kept whole readings hold "health": [[at, event_id, score, grade]].
    return tuple(HealthReading(score=float(score), grade=grade, previous_score=None, at=datetime.fromisoformat(at),
                               event_id=event_id) for at, event_id, score, grade in doc.get("health", ()))
