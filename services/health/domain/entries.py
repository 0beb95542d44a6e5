"""What an account's timeline shows of each input event: which kind of entry it makes, and its line
in words. Usage is telemetry (thousands of events a day), so it is not shown event by event but
rolled up per account, UTC day and feature; every other event is an entry of its own.

Plain data in, plain data out: the store writes what `split_entries` returns, the API words what the
store reads with `describe`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal

from shared.days import require_aware

TimelineKind = Literal["interaction", "ticket", "survey", "contact", "contract", "account", "usage", "score", "alert"]
TIMELINE_KINDS: Final[tuple[TimelineKind, ...]] = (
    "interaction", "ticket", "survey", "contact", "contract", "account", "usage", "score", "alert")

_KIND_BY_PREFIX: Final[dict[str, TimelineKind]] = {
    "interaction": "interaction", "ticket": "ticket", "survey": "survey", "contact": "contact",
    "contract": "contract", "account": "account", "usage": "usage",
}

USAGE_ROLLUP_TYPE: Final = "usage.daily"
"""The entry type of a day's usage of one feature (not an input event type: it stands for many)."""


def kind_of(event_type: str) -> TimelineKind:
    """The timeline kind of an input event type (`ticket.opened` -> `ticket`)."""
    return _KIND_BY_PREFIX[event_type.split(".", 1)[0]]


@dataclass(frozen=True, slots=True)
class EventEntry:
    """An input event shown as it is."""

    account_id: str
    event_id: str
    kind: TimelineKind
    event_type: str
    at: datetime
    source: str | None
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class UsageTouch:
    """One usage event's share of its day's roll-up."""

    account_id: str
    event_id: str
    day: date
    feature: str
    quantity: float
    at: datetime


@dataclass(frozen=True, slots=True)
class TimelineInput:
    """An input event as the timeline needs it (the envelope's fields, data as JSON)."""

    account_id: str
    event_id: str
    event_type: str
    occurred_at: datetime
    source: str | None
    data: Mapping[str, Any]


def split_entries(events: Iterable[TimelineInput]) -> tuple[list[EventEntry], list[UsageTouch]]:
    """The entries of a batch's events and the usage touches to roll up, each event id once (a
    repeat inside the batch adds nothing: the timeline counts an event once, as the score does)."""
    entries: list[EventEntry] = []
    touches: list[UsageTouch] = []
    seen: set[str] = set()
    for e in events:
        if e.event_id in seen:
            continue
        seen.add(e.event_id)
        kind = kind_of(e.event_type)
        if kind == "usage":
            day = require_aware(e.occurred_at).date()
            touches.append(UsageTouch(e.account_id, e.event_id, day, str(e.data["feature"]),
                                      float(e.data.get("quantity", 1.0)), e.occurred_at))
        else:
            entries.append(EventEntry(e.account_id, e.event_id, kind, e.event_type, e.occurred_at, e.source, e.data))
    return entries, touches


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe(event_type: str, data: Mapping[str, Any]) -> str:
    """One line about an entry, for a person reading the timeline."""
    d = data
    if event_type == USAGE_ROLLUP_TYPE:
        events = int(d["events"])
        return (f"{d['feature']}: {_fmt(float(d['quantity']))} used in {events} event{'s' if events != 1 else ''}"
                f" on {d['day']}")
    if event_type == "interaction.logged":
        line = str(d["channel"]) + (f" ({d['direction']})" if d.get("direction") else "")
        line += f" with {d['contact_id']}" if d.get("contact_id") else ""
        line += f", sentiment {_fmt(d['sentiment'])}" if d.get("sentiment") is not None else ""
        return line + (f": {d['summary']}" if d.get("summary") else "")
    if event_type == "ticket.opened":
        return f"ticket {d['ticket_id']} opened ({d['severity']})" + (f": {d['subject']}" if d.get("subject") else "")
    if event_type == "ticket.closed":
        return f"ticket {d['ticket_id']} closed" + (f": {d['resolution']}" if d.get("resolution") else "")
    if event_type == "survey.answered":
        return f"{str(d['kind']).upper()} {d['score']}" + (f": {d['comment']}" if d.get("comment") else "")
    if event_type == "contact.changed":
        who = f"{d['name']} ({d['contact_id']})" if d.get("name") else d["contact_id"]
        if d["change"] == "role_changed":
            return f"contact {who}: {d['role']} -> {d['new_role']}"
        return f"contact {who} ({d['role']}) {d['change']}"
    if event_type == "account.updated":
        changes = ", ".join(f"{k} cleared" if v is None else f"{k} = {v}" for k, v in d.items())
        return f"account updated: {changes}"
    if event_type.startswith("contract."):
        verb = event_type.split(".", 1)[1]
        line = f"contract {d['contract_id']} {verb}"
        if d.get("arr") is not None:
            line += f": {d['arr']} {d.get('currency') or 'USD'} ARR"
            line += f", {d['seats']} seats" if d.get("seats") is not None else ""
        if d.get("end_date"):
            line += f", until {d['end_date']}"
        return line + (f" ({d['reason']})" if d.get("reason") else "")
    return event_type


def describe_score(*, score: float, grade: str, previous_score: float | None, previous_grade: str | None,
                   cause: str) -> str:
    if previous_score is None:
        return f"first score {score:g} ({grade})"
    grade_change = f", {previous_grade} -> {grade}" if previous_grade != grade else f" ({grade})"
    return f"score {previous_score:g} -> {score:g}{grade_change}, {cause}"


def describe_alert(*, kind: str, severity: str, status: str) -> str:
    return f"{kind.replace('_', ' ')} alert ({severity})" + (", resolved" if status == "resolved" else "")
