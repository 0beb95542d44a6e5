"""ExpansionSignals to and from JSON-compatible values (the `accounts.state` JSONB column).

Only str, int, None, lists and dicts with str keys: Decimal as a string, dates and datetimes as ISO
text. `signals_from_json(signals_to_json(s)) == s`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from services.expansion.domain.divergence import (
    EMPTY_DIVERGENCE,
    ArrPoint,
    DivergenceState,
    OpenDivergence,
    ScorePoint,
)
from services.expansion.domain.health_gate import EMPTY_GATE, Grade, HealthGate, Held, OpenAlert
from services.expansion.domain.signals import Contract, ExpansionSignals, FeatureUse, Survey


def signals_to_json(s: ExpansionSignals) -> dict[str, Any]:
    return {
        "latest_at": s.latest_at.isoformat() if s.latest_at else None,
        "contracts": {cid: _contract_to_json(c) for cid, c in s.contracts.items()},
        "users": dict(s.user_last_seen),
        "users_reported": s.users_reported,
        "features": {name: [f.product, f.last_day, f.day_mask, list(f.evidence)] for name, f in s.features.items()},
        "usage_evidence": list(s.usage_evidence),
        "nps": _survey_to_json(s.nps),
        "csat": _survey_to_json(s.csat),
        "volumes": {f: {str(d): q for d, q in days.items()} for f, days in s.volumes.items()},
        "segment": None if s.segment is None else [s.segment[0].isoformat(), s.segment[1], s.segment[2]],
        "gate": _gate_to_json(s.gate),
        "divergence": _divergence_to_json(s.divergence),
    }


def signals_from_json(doc: dict[str, Any]) -> ExpansionSignals:
    if not doc:
        return ExpansionSignals()
    return ExpansionSignals(
        latest_at=datetime.fromisoformat(doc["latest_at"]) if doc.get("latest_at") else None,
        contracts={cid: _contract_from_json(cid, c) for cid, c in doc.get("contracts", {}).items()},
        user_last_seen={u: int(d) for u, d in doc.get("users", {}).items()},
        features={
            name: FeatureUse(product, int(last_day), int(mask), tuple(evidence))
            for name, (product, last_day, mask, evidence) in doc.get("features", {}).items()
        },
        usage_evidence=tuple(doc.get("usage_evidence", ())),
        nps=_survey_from_json(doc.get("nps")),
        csat=_survey_from_json(doc.get("csat")),
        volumes={f: {int(d): float(q) for d, q in days.items()} for f, days in doc.get("volumes", {}).items()},
        segment=_segment_from_json(doc.get("segment")),
        gate=_gate_from_json(doc.get("gate")),
        divergence=_divergence_from_json(doc.get("divergence")),
        # State stored before the flag existed: users held means ids were reported (the best it can tell).
        users_reported=bool(doc.get("users_reported", bool(doc.get("users")))),
    )


def _segment_from_json(doc: list[str] | None) -> tuple[datetime, str, str] | None:
    return None if doc is None else (datetime.fromisoformat(doc[0]), doc[1], doc[2])


def _contract_to_json(c: Contract) -> dict[str, Any]:
    return {
        "seats": c.seats, "products": list(c.products), "arr": str(c.arr), "currency": c.currency,
        "at": c.at.isoformat(), "event_id": c.event_id,
        "cancelled_on": c.cancelled_on.isoformat() if c.cancelled_on else None,
    }


def _contract_from_json(contract_id: str, doc: dict[str, Any]) -> Contract:
    return Contract(
        contract_id=contract_id, seats=int(doc["seats"]), products=tuple(doc["products"]), arr=Decimal(doc["arr"]),
        currency=doc["currency"], at=datetime.fromisoformat(doc["at"]), event_id=doc["event_id"],
        cancelled_on=date.fromisoformat(doc["cancelled_on"]) if doc.get("cancelled_on") else None,
    )


def _survey_to_json(survey: Survey | None) -> list[Any] | None:
    return None if survey is None else [survey.score, survey.at.isoformat(), survey.event_id]


def _survey_from_json(doc: list[Any] | None) -> Survey | None:
    return None if doc is None else Survey(int(doc[0]), datetime.fromisoformat(doc[1]), str(doc[2]))


def _gate_to_json(gate: HealthGate) -> dict[str, Any] | None:
    if gate == EMPTY_GATE:
        return None  # the state of an account no health record has reached stays as it was
    g = gate.grade
    return {
        "grade": None if g is None else [g.grade, g.score, g.at.isoformat(), g.event_id],
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
        grade=None if g is None else Grade(g[0], float(g[1]), datetime.fromisoformat(g[2]), g[3]),
        open_alerts={a: OpenAlert(kind, datetime.fromisoformat(since))
                     for a, (kind, since) in doc.get("open_alerts", {}).items()},
        held={(h.kind, h.product): h for h in held},
    )


def _divergence_to_json(state: DivergenceState) -> dict[str, Any] | None:
    if state == EMPTY_DIVERGENCE:
        return None
    o = state.open
    return {
        "arr": [[p.at.isoformat(), p.event_id, [[c, str(a)] for c, a in p.arr]] for p in state.arr],
        "health": [[p.at.isoformat(), p.event_id, p.score, p.grade] for p in state.health],
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
        health=tuple(ScorePoint(datetime.fromisoformat(at), event_id, float(score), grade)
                     for at, event_id, score, grade in doc.get("health", ())),
        open=None if o is None else OpenDivergence(o[0], datetime.fromisoformat(o[1]), int(o[2])),
        episodes=int(doc.get("episodes", 0)),
    )
