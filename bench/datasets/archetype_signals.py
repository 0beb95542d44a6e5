"""What an archetype account emits on one day, given its hidden health h: usage in its telemetry
style, interactions, tickets, surveys and contact changes. Every figure is h with noise."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.datasets.common import Envelope, envelope, midnight

TELEMETRY: dict[str, list[str]] = {
    "per_user": ["dashboard", "search", "report", "export", "share", "comment", "import", "automation", "admin"],
    "daily_counts": ["dashboard", "search", "report", "export", "share", "comment", "import", "automation"],
    # metered: each feature in its own unit, magnitudes that differ by orders
    "metered": ["api_calls", "storage_gb", "deal_value", "exports", "records_synced"],
    "server_side": ["sync.completed", "webhook.delivered", "report.generated", "job.failed", "api.request"],
}
METER_SCALE = {"api_calls": 2000.0, "storage_gb": 40.0, "deal_value": 8000.0, "exports": 3.0, "records_synced": 300.0}
STOCK_FEATURES = frozenset({"storage_gb"})
"""Reported as a level every day while the account exists: storage does not drop when users stop."""
SEGMENT_TOUCHES = {"enterprise": 6.0, "mid_market": 3.0, "smb": 1.0, None: 1.5}


@dataclass
class Emitter:
    account_id: str
    events: list[Envelope] = field(default_factory=list)

    def emit(self, event_type: str, at: datetime, data: dict[str, Any]) -> None:
        event_id = f"{self.account_id}-{len(self.events):06d}"
        self.events.append(envelope(event_id, event_type, self.account_id, at, data, source="archetypes"))


@dataclass
class Account:
    account_id: str
    segment: str | None
    archetype: str
    telemetry: str
    seats: int
    arr: Decimal
    term_months: int
    start: date
    """First day of history (contract signed or, for an existing customer, the window's start)."""
    term_start: date
    health: list[float]
    """Hidden h per day from `start`."""
    features: list[str]
    users: int
    emitter: Emitter = field(init=False)
    h_penalty: float = 0.0
    last_amended: date | None = None


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _at(rng: random.Random, day: date, first_hour: int = 7, last_hour: int = 20) -> datetime:
    return midnight(day) + timedelta(seconds=rng.randint(first_hour * 3600, last_hour * 3600))


def emit_usage(a: Account, rng: random.Random, day: date, h: float) -> None:
    weekday = 1.0 if day.weekday() < 5 else 0.3
    active_share = 0.55 * h ** 1.3 * weekday
    intensity = 1.0 + 4.0 * h
    feature_count = max(1, round(len(a.features) * (0.3 + 0.7 * h)))
    used = a.features[:feature_count]
    if a.telemetry == "per_user":
        for user in range(a.users):
            if rng.random() < active_share:
                a.emitter.emit("usage.recorded", _at(rng, day),
                               {"user_id": f"u{user}", "feature": rng.choice(used),
                                "quantity": 1 + poisson(rng, intensity)})
    elif a.telemetry == "daily_counts":
        active = poisson(rng, a.users * active_share)
        for feature in used:
            count = poisson(rng, active * intensity / len(used))
            if count:
                a.emitter.emit("usage.recorded", midnight(day) + timedelta(hours=23),
                               {"feature": feature, "quantity": count})
    elif a.telemetry == "metered":
        size = max(1.0, a.users / 10)
        for feature in a.features:
            if feature in STOCK_FEATURES:
                quantity = METER_SCALE[feature] * size * (0.5 + 0.5 * h) * rng.lognormvariate(0, 0.05)
            elif feature in used:
                quantity = METER_SCALE[feature] * size * h * weekday * rng.lognormvariate(0, 0.5)
            else:
                continue
            a.emitter.emit("usage.recorded", midnight(day) + timedelta(hours=23, minutes=30),
                           {"feature": feature, "quantity": round(quantity, 2)})
    else:  # server_side: individual events, no user
        for _ in range(poisson(rng, (1 + a.users / 8) * h * weekday * 2)):
            a.emitter.emit("usage.recorded", _at(rng, day, 0, 23), {"feature": rng.choice(used)})


@dataclass
class Contacts:
    active: dict[str, str] = field(default_factory=dict)
    """contact id -> role"""
    replacement_due: date | None = None
    next_id: int = 0

    def join(self, a: Account, at: datetime, role: str) -> str:
        contact_id = f"{a.account_id}-c{self.next_id}"
        self.next_id += 1
        self.active[contact_id] = role
        a.emitter.emit("contact.changed", at, {"contact_id": contact_id, "role": role, "change": "joined"})
        return contact_id


def initial_contacts(a: Account, rng: random.Random) -> Contacts:
    contacts = Contacts()
    at = midnight(a.start) + timedelta(hours=9)
    contacts.join(a, at, "champion")
    if a.segment in ("enterprise", "mid_market"):
        contacts.join(a, at, "exec_sponsor")
    contacts.join(a, at, "admin")
    for _ in range(rng.randint(0, 3)):
        contacts.join(a, at, "user")
    return contacts


def emit_engagement(a: Account, rng: random.Random, day: date, h: float, contacts: Contacts, penalty: float) -> float:
    """Interactions, tickets, surveys and contact changes of the day; returns the hidden penalty on h
    (a champion who left and was not replaced weighs on the account until replaced)."""
    em, people = a.emitter, list(contacts.active)
    if rng.random() < SEGMENT_TOUCHES[a.segment] * (0.4 + 0.9 * h) / 30:
        channel = rng.choices(["email", "meeting", "call", "chat"], weights=[4, 2, 2, 1])[0]
        data: dict[str, Any] = {"channel": channel, "direction": "inbound" if rng.random() < 0.2 + 0.5 * h
                                else "outbound", "contact_id": rng.choice(people)}
        if rng.random() < 0.6:
            data["sentiment"] = round(max(-1.0, min(1.0, rng.gauss(1.6 * h - 0.6, 0.35))), 2)
        em.emit("interaction.logged", _at(rng, day), data)
    if a.segment == "enterprise" and day.day == 15 and day.month % 3 == 0 and rng.random() < 0.3 + 0.6 * h:
        em.emit("interaction.logged", _at(rng, day), {"channel": "qbr", "contact_id": rng.choice(people)})
    size = {"enterprise": 2.0, "mid_market": 1.2}.get(a.segment or "", 0.6)
    if rng.random() < (0.01 + 0.05 * (1 - h)) * size:
        _ticket(a, rng, day, h, people)
    if (day - a.start).days % 91 == 45 and rng.random() < 0.7:
        score = max(0, min(10, round(10 * h + rng.gauss(0, 1.5))))
        em.emit("survey.answered", _at(rng, day), {"kind": "nps", "score": score, "contact_id": rng.choice(people)})
    return _contact_changes(a, rng, day, h, contacts, penalty)


def _ticket(a: Account, rng: random.Random, day: date, h: float, people: list[str]) -> None:
    ticket_id = f"{a.account_id}-t{len(a.emitter.events)}"
    severity = rng.choices(["low", "normal", "high", "urgent"], weights=[3, 5, 2, 0.3 + 1.5 * (1 - h)])[0]
    opened = _at(rng, day)
    a.emitter.emit("ticket.opened", opened, {"ticket_id": ticket_id, "severity": severity})
    closed = opened + timedelta(hours=rng.expovariate(1 / (24 * (1 + 5 * (1 - h)))))
    a.emitter.emit("ticket.closed", closed, {"ticket_id": ticket_id, "resolution": "resolved"})
    if rng.random() < 0.4:
        score = max(1, min(5, round(1 + 4 * h + rng.gauss(0, 0.8))))
        a.emitter.emit("survey.answered", closed + timedelta(hours=2),
                       {"kind": "csat", "score": score, "contact_id": rng.choice(people)})


def _contact_changes(a: Account, rng: random.Random, day: date, h: float, contacts: Contacts, penalty: float) -> float:
    champions = [c for c, role in contacts.active.items() if role == "champion"]
    if champions and rng.random() < 0.0006 + 0.006 * (1 - h) ** 2:
        gone = champions[0]
        del contacts.active[gone]
        a.emitter.emit("contact.changed", _at(rng, day), {"contact_id": gone, "role": "champion", "change": "left"})
        if rng.random() < 0.6:
            contacts.replacement_due = day + timedelta(days=rng.randint(5, 40))
        return penalty + 0.15
    if contacts.replacement_due == day:
        contacts.replacement_due = None
        contacts.join(a, _at(rng, day), "champion")
        return max(0.0, penalty - 0.15)
    return penalty
