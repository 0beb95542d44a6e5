"""Contract and health events for the renewals tests: envelopes (for the handler and Kafka) and the
domain's own values."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from shared.contracts import ContractEvent
from shared.contracts import contract_event as make_contract_event
from shared.events import HealthChanged, deterministic_event_id
from shared.health_reading import HealthReading


def at(day: date | str, hour: int = 9) -> datetime:
    on = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime(on.year, on.month, on.day, hour, tzinfo=UTC)


def terms(contract_id: str, *, arr: str = "12000", start: date | str = "2026-01-01", end: date | str = "2026-12-31",
          currency: str = "USD", seats: int = 10, **extra: Any) -> dict[str, Any]:
    return {"contract_id": contract_id, "arr": arr, "currency": currency, "seats": seats, "products": ["core"],
            "start_date": str(start), "end_date": str(end), "auto_renew": False, **extra}


def contract_envelope(account_id: str, kind: str, data: dict[str, Any], *, on: date | str,
                      event_id: str | None = None) -> dict[str, Any]:
    return {"event_id": event_id or f"{kind}-{uuid.uuid4().hex[:12]}", "type": f"contract.{kind}",
            "schema_version": 1, "account_id": account_id, "occurred_at": at(on).isoformat(), "data": data}


def contract_event(kind: str, data: dict[str, Any], *, on: date | str, event_id: str | None = None) -> ContractEvent:
    return make_contract_event(event_id=event_id or f"{kind}-{on}", event_type=f"contract.{kind}", occurred_at=at(on),
                               data=data)


def health(grade: str, score: float, *, on: date | str = "2026-06-01", previous: float | None = None) -> HealthReading:
    return HealthReading(score=score, grade=grade, previous_score=previous, at=at(on), event_id=f"h-{on}-{score}")


def health_changed(account_id: str, grade: str, score: float, *, on: datetime,
                   previous: float | None = None) -> HealthChanged:
    return HealthChanged(
        event_id=deterministic_event_id("health.changed", account_id, on.isoformat(), f"{score:g}"),
        account_id=account_id, occurred_at=on, emitted_at=on, score=score, grade=grade,  # type: ignore[arg-type]
        previous_score=previous, components={"usage": score}, as_of=on,
    )
