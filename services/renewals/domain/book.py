"""One account as renewals sees it: every contract event it has seen, its recent health records,
the point in time it was last judged at, and what it remembers per renewal (alert, last band),
folded into contracts, renewals and their risk. JSON-able for the `accounts` table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from services.renewals.domain.alerts import AlertState
from services.renewals.domain.renewals import Outcome, Renewal, renewals_of
from services.renewals.domain.risk import RULES, Risk, RiskRules, add_health, assess_risk
from shared.contracts import (
    EMPTY_HISTORY,
    ArrSpan,
    Contract,
    ContractEvent,
    ContractHistory,
    Term,
    arr_spans,
    history_from_json,
    history_to_json,
)
from shared.health_reading import HealthReading
from shared.reasons import Reason


@dataclass(frozen=True)
class AccountBook:
    contract_history: ContractHistory = EMPTY_HISTORY
    health_trail: tuple[HealthReading, ...] = ()
    """The health records a trend can still need, oldest first (see risk.add_health)."""
    latest_at: datetime | None = None
    judged_at: datetime | None = None
    """The latest point (an event's time or a midnight) the account's renewals were judged at."""
    alerts: Mapping[str, AlertState] = field(default_factory=dict)
    """Per renewal id. Derived like the rest (a replay re-derives the same episodes, hence the same
    event ids, which consumers de-duplicate)."""

    @property
    def health(self) -> HealthReading | None:
        return self.health_trail[-1] if self.health_trail else None

    def contracts(self) -> list[Contract]:
        return list(self.contract_history.contracts.values())

    def renewals(self, account_id: str, *, at: datetime, rules: RiskRules = RULES) -> list[Renewal]:
        """Every renewal with its risk at `at`. A closed renewal keeps the band it was last judged at
        while pending (what the forecast's history pairs with its outcome)."""
        def risk_of(renewal_id: str, term: Term, outcome: Outcome | None) -> Risk:
            risk = assess_risk(self.health_trail, at=at, renewal_date=term.end_date, auto_renew=term.auto_renew,
                               pending=outcome is None, rules=rules)
            last = self.alerts.get(renewal_id, AlertState()).band
            if outcome is None or last is None:
                return risk
            return Risk(last, (Reason("renewal", 0.0, f"{outcome}; at {last} risk when last judged open"),))

        return [r for contract in self.contracts() for r in renewals_of(account_id, contract, risk_of)]

    def spans(self) -> list[ArrSpan]:
        return [span for contract in self.contracts() for span in arr_spans(contract)]


def apply_contract_events(book: AccountBook, events: Iterable[ContractEvent]) -> AccountBook:
    events = list(events)
    if not events:
        return book
    return replace(book, contract_history=book.contract_history.add(events),
                   latest_at=_latest(book.latest_at, max(e.occurred_at for e in events)))


def apply_health(book: AccountBook, health: HealthReading) -> AccountBook:
    return replace(book, health_trail=add_health(book.health_trail, health),
                   latest_at=_latest(book.latest_at, health.at))


def with_alerts(book: AccountBook, alerts: Mapping[str, AlertState]) -> AccountBook:
    return replace(book, alerts={**book.alerts, **alerts}) if alerts else book


def _latest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current


def _health_json(health: HealthReading) -> dict[str, Any]:
    return {"score": health.score, "grade": health.grade, "previous_score": health.previous_score,
            "at": health.at.isoformat(), "event_id": health.event_id, "components": dict(health.components)}


def _health_of(stored: Mapping[str, Any]) -> HealthReading:
    return HealthReading(score=stored["score"], grade=stored["grade"], previous_score=stored["previous_score"],
                  at=datetime.fromisoformat(stored["at"]), event_id=stored["event_id"],
                  components=tuple(sorted((stored.get("components") or {}).items())))


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def book_to_json(book: AccountBook) -> dict[str, Any]:
    return {
        "contracts": history_to_json(book.contract_history),
        "health_trail": [_health_json(h) for h in book.health_trail],
        "latest_at": None if book.latest_at is None else book.latest_at.isoformat(),
        "judged_at": None if book.judged_at is None else book.judged_at.isoformat(),
        "alerts": {renewal_id: [s.severity, s.episode, s.band, s.reminded,
                                None if s.since is None else s.since.isoformat()]
                   for renewal_id, s in book.alerts.items()},
    }


def _alert_state(stored: list[Any]) -> AlertState:
    # States stored before reminders and bands were kept hold [severity, episode] only.
    severity, episode, band, reminded, since = [*stored, None, None, None][:5]
    return AlertState(severity, episode, band, reminded, _time(since))


def book_from_json(stored: Mapping[str, Any]) -> AccountBook:
    # Books stored before the trail hold their latest health record only.
    trail = stored.get("health_trail") or ([stored["health"]] if stored.get("health") else [])
    return AccountBook(
        contract_history=history_from_json(stored.get("contracts") or {}),
        health_trail=tuple(_health_of(h) for h in trail),
        latest_at=_time(stored.get("latest_at")),
        judged_at=_time(stored.get("judged_at")),
        alerts={renewal_id: _alert_state(state) for renewal_id, state in (stored.get("alerts") or {}).items()},
    )
