"""One account as renewals sees it: every contract event it has seen and its latest health record,
folded into contracts, renewals and their risk. JSON-able for the `accounts` table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from services.renewals.domain.alerts import AlertState
from services.renewals.domain.contracts import ArrSpan, Contract, ContractEvent, add_events, arr_spans, fold_contract
from services.renewals.domain.renewals import Renewal, renewals_of
from services.renewals.domain.risk import Health, assess_risk, later_health


@dataclass(frozen=True)
class AccountBook:
    contract_events: Mapping[str, tuple[ContractEvent, ...]] = field(default_factory=dict)
    health: Health | None = None
    latest_at: datetime | None = None
    alerts: Mapping[str, AlertState] = field(default_factory=dict)
    """Per renewal id, its renewal_at_risk alert. Derived like the rest (a replay re-derives the same
    episodes, hence the same event ids, which consumers de-duplicate)."""

    def contracts(self) -> list[Contract]:
        return [fold_contract(contract_id, events) for contract_id, events in sorted(self.contract_events.items())]

    def renewals(self, account_id: str) -> list[Renewal]:
        risk = assess_risk(self.health)
        return [r for contract in self.contracts() for r in renewals_of(account_id, contract, risk)]

    def spans(self) -> list[ArrSpan]:
        return [span for contract in self.contracts() for span in arr_spans(contract)]


def apply_contract_events(book: AccountBook, events: Iterable[ContractEvent]) -> AccountBook:
    events = list(events)
    if not events:
        return book
    return replace(book, contract_events=add_events(book.contract_events, events),
                   latest_at=_latest(book.latest_at, max(e.occurred_at for e in events)))


def apply_health(book: AccountBook, health: Health) -> AccountBook:
    return replace(book, health=later_health(book.health, health), latest_at=_latest(book.latest_at, health.at))


def with_alerts(book: AccountBook, alerts: Mapping[str, AlertState]) -> AccountBook:
    return replace(book, alerts={**book.alerts, **alerts}) if alerts else book


def _latest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current


def book_to_json(book: AccountBook) -> dict[str, Any]:
    health = book.health
    return {
        "contracts": {
            contract_id: [[e.event_id, e.event_type, e.occurred_at.isoformat(), dict(e.data)] for e in events]
            for contract_id, events in book.contract_events.items()
        },
        "health": None if health is None else {
            "score": health.score, "grade": health.grade, "previous_score": health.previous_score,
            "at": health.at.isoformat(), "event_id": health.event_id,
        },
        "latest_at": None if book.latest_at is None else book.latest_at.isoformat(),
        "alerts": {renewal_id: [state.severity, state.episode] for renewal_id, state in book.alerts.items()},
    }


def book_from_json(stored: Mapping[str, Any]) -> AccountBook:
    health = stored.get("health")
    latest = stored.get("latest_at")
    return AccountBook(
        contract_events={
            contract_id: tuple(ContractEvent(event_id, kind, datetime.fromisoformat(at), data)
                               for event_id, kind, at, data in events)
            for contract_id, events in (stored.get("contracts") or {}).items()
        },
        health=None if not health else Health(score=health["score"], grade=health["grade"],
                                               previous_score=health["previous_score"],
                                               at=datetime.fromisoformat(health["at"]), event_id=health["event_id"]),
        latest_at=None if latest is None else datetime.fromisoformat(latest),
        alerts={renewal_id: AlertState(severity, episode)
                for renewal_id, (severity, episode) in (stored.get("alerts") or {}).items()},
    )
