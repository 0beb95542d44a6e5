"""Hand-built event histories for the health domain tests: plain data, days counted from T0."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.health.domain import EMPTY_SIGNALS, AccountSignals, SignalEvent, apply_events
from shared.signal_events import signal_event

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(day: float) -> datetime:
    return T0 + timedelta(days=day)


def on(day: int) -> date:
    return at(day).date()


class History:
    """An account's events in the order they are added; `signals()` folds them."""

    def __init__(self, prefix: str = "e") -> None:
        self.events: list[SignalEvent] = []
        self.prefix = prefix

    def add(self, day: float, event_type: str, data: Mapping[str, Any]) -> str:
        event_id = f"{self.prefix}{len(self.events):05d}"
        self.events.append(signal_event(event_id=event_id, event_type=event_type, occurred_at=at(day), data=data))
        return event_id

    def signals(self, upto_day: float | None = None) -> AccountSignals:
        chosen = [e for e in self.events if upto_day is None or e.occurred_at <= at(upto_day)]
        return apply_events(EMPTY_SIGNALS, chosen)

    # --- one event each ---

    def contract(self, day: float, *, seats: int = 60, arr: str = "120000", start: int | None = None,
                 end: int | None = None, segment: str | None = "enterprise", contract_id: str = "k-1",
                 kind: str = "signed", products: tuple[str, ...] = ("core",)) -> str:
        start_day = int(day) if start is None else start
        return self.add(day, f"contract.{kind}", {
            "contract_id": contract_id, "arr": Decimal(arr), "currency": "USD", "seats": seats,
            "products": list(products), "start_date": on(start_day),
            "end_date": on(start_day + 364 if end is None else end), "auto_renew": False, "segment": segment,
        })

    def usage(self, day: float, user: str | None, feature: str = "reports", quantity: float = 1.0) -> str:
        return self.add(day, "usage.recorded", {"user_id": user, "feature": feature, "quantity": quantity})

    def interaction(self, day: float, channel: str = "email", direction: str | None = "outbound",
                    contact_id: str | None = None, sentiment: float | None = None) -> str:
        return self.add(day, "interaction.logged", {"channel": channel, "direction": direction,
                                                    "contact_id": contact_id, "sentiment": sentiment})

    def ticket(self, day: float, ticket_id: str, severity: str = "normal") -> str:
        return self.add(day, "ticket.opened", {"ticket_id": ticket_id, "severity": severity})

    def close(self, day: float, ticket_id: str) -> str:
        return self.add(day, "ticket.closed", {"ticket_id": ticket_id})

    def survey(self, day: float, kind: str, score: int, contact_id: str | None = None) -> str:
        return self.add(day, "survey.answered", {"kind": kind, "score": score, "contact_id": contact_id})

    def contact(self, day: float, contact_id: str, role: str, change: str = "joined",
                new_role: str | None = None, name: str | None = None) -> str:
        data: dict[str, Any] = {"contact_id": contact_id, "role": role, "change": change}
        if new_role:
            data["new_role"] = new_role
        if name:
            data["name"] = name
        return self.add(day, "contact.changed", data)

    # --- patterns ---

    def active_users(self, first_day: int, last_day: int, users: int, *, every: int = 3,
                     features: tuple[str, ...] = ("reports", "dashboards", "alerts", "exports", "api")) -> None:
        """`users` users, each active every `every` days (staggered), rotating through features."""
        for day in range(first_day, last_day + 1):
            for u in range(users):
                if (day + u) % every == 0:
                    self.usage(day + 0.1 + u / 1000, f"u-{u:03d}", features[(day + u) % len(features)])

    def customer_success(self, first_day: int, last_day: int, contacts: int = 5) -> None:
        """Twice-weekly touches (one inbound email, one call), a QBR every 90 days, NPS 9 every quarter."""
        for day in range(first_day, last_day + 1):
            contact = f"c-{day % contacts}"
            if day % 7 == 1:
                self.interaction(day + 0.5, "email", "inbound", contact)
            if day % 7 == 4:
                self.interaction(day + 0.5, "call", "outbound", contact, sentiment=0.4)
            if day % 90 == 10:
                self.interaction(day + 0.6, "qbr", None, "c-0")
            if day % 90 == 20:
                self.survey(day + 0.7, "nps", 9, contact)
            if day % 30 == 15:
                self.ticket(day + 0.2, f"t-{day}", "normal")
                self.close(day + 2.2, f"t-{day}")


def healthy_account(days: int = 180, *, seats: int = 60, users: int = 50, prefix: str = "e") -> History:
    """An enterprise customer a year in, with steady usage, touches, QBRs, good NPS, key contacts."""
    h = History(prefix)
    h.contract(-365, seats=seats, start=-365, end=days + 200)
    h.contact(-300, "c-0", "champion", name="Jane")
    h.contact(-300, "c-1", "exec_sponsor", name="Omar")
    for c in range(2, 5):
        h.contact(-300, f"c-{c}", "user")
    h.active_users(-60, days, users)
    h.customer_success(-60, days)
    return h
