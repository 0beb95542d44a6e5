"""Folding validated events into AccountSignals.

`apply_events` is the batch form the shell should use (one copy of the state per account per
batch); `apply_event` is the same for one event. Both take event time from `occurred_at`, never
from arrival, so the resulting state does not depend on the order events arrive in (within the
horizon; an event arriving more than `HORIZON_DAYS` late can only change "latest" registers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from services.health.domain.days import day_number, require_aware
from services.health.domain.signals import (
    HORIZON_DAYS,
    KEY_ROLES,
    NEGATIVE_CSAT_MAX,
    NEGATIVE_NPS_MAX,
    NEGATIVE_SENTIMENT_MAX,
    TWO_WAY_CHANNELS,
    AccountSignals,
    Cancellation,
    ContactState,
    ContractState,
    ContractTerm,
    Departure,
    Interaction,
    NegativeFeedback,
    Stamp,
    SurveyAnswer,
    TicketState,
)
from shared.rejection import EventRejected

MAX_INTERACTIONS = 400
MAX_NEGATIVE_FEEDBACK = 50
MAX_USAGE_EVIDENCE = 5
MAX_DEPARTURES = 10
MAX_TERMS_PER_CONTRACT = 4
MAX_CLOSED_TICKETS = 200
_EPOCH = (datetime.min.replace(tzinfo=UTC), "")
_FULL_MASK = (1 << HORIZON_DAYS) - 1


class UnknownEventType(ValueError):
    """The health domain has no rule for this event type (a contract mismatch, not a data error)."""


@dataclass(frozen=True, slots=True)
class SignalEvent:
    """One validated event as the fold needs it (the envelope minus account and schema fields)."""

    event_id: str
    event_type: str
    occurred_at: datetime
    data: Mapping[str, Any]


def apply_event(
    signals: AccountSignals,
    *,
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    data: Mapping[str, Any],
) -> AccountSignals:
    return apply_events(signals, [SignalEvent(event_id, event_type, occurred_at, data)])


def apply_events(signals: AccountSignals, events: Iterable[SignalEvent]) -> AccountSignals:
    fold = _Fold(signals)
    for event in events:
        fold.apply(event)
    return fold.freeze()


def _earlier(current: int | None, day: int) -> int:
    return day if current is None or day < current else current


def _later(current: Stamp | None, stamp: Stamp) -> Stamp:
    return stamp if current is None or stamp.key > current.key else current


class _Fold:
    """Mutable working copy of AccountSignals for the length of one batch."""

    def __init__(self, s: AccountSignals) -> None:
        self.s = s
        self.latest_day = s.latest_day
        self.first_seen_day = s.first_seen_day
        self.user_activity = dict(s.user_activity)
        self.usage_by_day = dict(s.usage_by_day)
        self.feature_last_used = dict(s.feature_last_used)
        self.first_usage_day = s.first_usage_day
        self.last_usage = s.last_usage
        self.usage_evidence = list(s.usage_evidence)
        self.interactions = list(s.interactions)
        self.first_interaction_day = s.first_interaction_day
        self.last_two_way = s.last_two_way
        self.last_qbr = s.last_qbr
        self.nps = s.nps
        self.csat = s.csat
        self.negative_feedback = list(s.negative_feedback)
        self.first_feedback_day = s.first_feedback_day
        self.tickets = dict(s.tickets)
        self.first_ticket_day = s.first_ticket_day
        self.contacts = dict(s.contacts)
        self.departures = list(s.departures)
        self.contracts = dict(s.contracts)
        self.advanced = False
        self.changed: set[str] = set()  # collections that need trimming or sorting in freeze()

    # --- time ---

    def _advance(self, day: int) -> None:
        if self.latest_day is None:
            self.latest_day = day
            self.advanced = True
        elif day > self.latest_day:
            shift = day - self.latest_day
            self.user_activity = {
                user: shifted for user, mask in self.user_activity.items()
                if (shifted := (mask << shift) & _FULL_MASK)
            }
            self.latest_day = day
            self.advanced = True

    def _in_window(self, day: int) -> bool:
        assert self.latest_day is not None
        return day > self.latest_day - HORIZON_DAYS

    def apply(self, event: SignalEvent) -> None:
        handler = _HANDLERS.get(event.event_type)
        if handler is None:
            raise UnknownEventType(f"no health rule for event type {event.event_type!r}")
        at = require_aware(event.occurred_at, "occurred_at")
        day = day_number(at)
        self._advance(day)
        self.first_seen_day = _earlier(self.first_seen_day, day)
        handler(self, Stamp(at, event.event_id), day, event.data)

    # --- per event type ---

    def usage_recorded(self, stamp: Stamp, day: int, data: Mapping[str, Any]) -> None:
        self.first_usage_day = _earlier(self.first_usage_day, day)
        self.last_usage = _later(self.last_usage, stamp)
        self.usage_evidence.append(stamp)
        self.changed.add("usage_evidence")
        if not self._in_window(day):
            return
        assert self.latest_day is not None
        user_id = data.get("user_id")
        if user_id:
            bit = 1 << (self.latest_day - day)
            self.user_activity[user_id] = self.user_activity.get(user_id, 0) | bit
        quantity = 1.0 if data.get("quantity") is None else float(data["quantity"])
        self.usage_by_day[day] = self.usage_by_day.get(day, 0.0) + quantity
        feature = data.get("feature")
        if feature:
            self.feature_last_used[feature] = _later(self.feature_last_used.get(feature), stamp)

    def interaction_logged(self, stamp: Stamp, day: int, data: Mapping[str, Any]) -> None:
        channel = data["channel"]
        direction = data.get("direction")
        self.first_interaction_day = _earlier(self.first_interaction_day, day)
        if channel in TWO_WAY_CHANNELS or direction == "inbound":
            self.last_two_way = _later(self.last_two_way, stamp)
        if channel == "qbr":
            self.last_qbr = _later(self.last_qbr, stamp)
        sentiment = data.get("sentiment")
        if sentiment is not None:
            self.first_feedback_day = _earlier(self.first_feedback_day, day)
        if not self._in_window(day):
            return
        self.interactions.append(Interaction(day, channel, direction, data.get("contact_id"), stamp.event_id))
        self.changed.add("interactions")
        if sentiment is not None and float(sentiment) <= NEGATIVE_SENTIMENT_MAX:
            self.negative_feedback.append(NegativeFeedback("interaction", float(sentiment), stamp))
            self.changed.add("negative_feedback")

    def ticket_opened(self, stamp: Stamp, day: int, data: Mapping[str, Any]) -> None:
        ticket_id = data["ticket_id"]
        ticket = self.tickets.get(ticket_id) or TicketState(ticket_id)
        if ticket.opened is None or stamp.key > ticket.opened.key:
            self.tickets[ticket_id] = replace(ticket, opened=stamp, severity=data["severity"])
            self.changed.add("tickets")
        self.first_ticket_day = _earlier(self.first_ticket_day, day)

    def ticket_closed(self, stamp: Stamp, day: int, data: Mapping[str, Any]) -> None:
        ticket_id = data["ticket_id"]
        ticket = self.tickets.get(ticket_id) or TicketState(ticket_id)
        self.tickets[ticket_id] = replace(ticket, closed=_later(ticket.closed, stamp))
        self.changed.add("tickets")
        self.first_ticket_day = _earlier(self.first_ticket_day, day)

    def survey_answered(self, stamp: Stamp, day: int, data: Mapping[str, Any]) -> None:
        kind, score = data["kind"], int(data["score"])
        answer = SurveyAnswer(kind, score, stamp, data.get("contact_id"))
        if kind == "nps":
            if self.nps is None or stamp.key > self.nps.stamp.key:
                self.nps = answer
            negative = score <= NEGATIVE_NPS_MAX
        else:
            if self.csat is None or stamp.key > self.csat.stamp.key:
                self.csat = answer
            negative = score <= NEGATIVE_CSAT_MAX
        self.first_feedback_day = _earlier(self.first_feedback_day, day)
        if negative and self._in_window(day):
            self.negative_feedback.append(NegativeFeedback(kind, float(score), stamp))
            self.changed.add("negative_feedback")

    def contact_changed(self, stamp: Stamp, day: int, data: Mapping[str, Any]) -> None:
        contact_id, role, change = data["contact_id"], data["role"], data["change"]
        new_role = data.get("new_role") if change == "role_changed" else None
        incoming = ContactState(contact_id, new_role or role, change != "left", stamp, data.get("name"))
        known = self.contacts.get(contact_id)
        if known is None:
            self.contacts[contact_id] = incoming
        else:
            # the later change wins; a name learnt from either event is kept
            winner, loser = (incoming, known) if stamp.key > known.since.key else (known, incoming)
            self.contacts[contact_id] = replace(winner, name=winner.name or loser.name)
        left_key_role = role in KEY_ROLES and (
            change == "left" or (change == "role_changed" and new_role is not None and new_role != role)
        )
        if left_key_role:
            name = self.contacts[contact_id].name
            self.departures.append(Departure(contact_id, role, stamp, name))
            self.changed.add("departures")

    def contract_term(self, stamp: Stamp, day: int, data: Mapping[str, Any]) -> None:
        contract_id = data["contract_id"]
        known = self.contracts.get(contract_id)
        fallback = _term_in_force(known, stamp.at.date()) if known else None
        term = _term_from(data, stamp, fallback)
        terms = {t.start_date: t for t in known.terms} if known else {}
        current = terms.get(term.start_date)
        if current is None or stamp.key > current.stamp.key:
            terms[term.start_date] = term
        kept = tuple(sorted(terms.values(), key=lambda t: t.start_date)[-MAX_TERMS_PER_CONTRACT:])
        first_start = min(d for d in (term.start_date, known.first_start if known else None) if d)
        cancellation = known.cancellation if known else None
        self.contracts[contract_id] = ContractState(contract_id, kept, first_start, cancellation)

    def contract_cancelled(self, stamp: Stamp, day: int, data: Mapping[str, Any]) -> None:
        contract_id = data["contract_id"]
        known = self.contracts.get(contract_id) or ContractState(contract_id, (), None)
        cancellation = Cancellation(_as_date(data["end_date"]), stamp)
        if known.cancellation is None or stamp.key > known.cancellation.stamp.key:
            self.contracts[contract_id] = replace(known, cancellation=cancellation)

    # --- result ---

    def freeze(self) -> AccountSignals:
        """The new state. Only collections that changed, or must be trimmed because the newest day
        moved, are filtered and sorted again (keeps a single-event apply cheap)."""
        if self.latest_day is None:
            return self.s
        s, start, advanced = self.s, self.latest_day - HORIZON_DAYS + 1, self.advanced

        def redo(name: str) -> bool:
            return advanced or name in self.changed

        return AccountSignals(
            latest_day=self.latest_day,
            first_seen_day=self.first_seen_day,
            user_activity=self.user_activity,
            usage_by_day={d: q for d, q in self.usage_by_day.items() if d >= start}
            if advanced else self.usage_by_day,
            feature_last_used={f: st for f, st in self.feature_last_used.items() if st.day >= start}
            if advanced else self.feature_last_used,
            first_usage_day=self.first_usage_day,
            last_usage=self.last_usage,
            usage_evidence=tuple(sorted(set(self.usage_evidence), key=_stamp_key)[-MAX_USAGE_EVIDENCE:])
            if "usage_evidence" in self.changed else s.usage_evidence,
            interactions=tuple(sorted((i for i in self.interactions if i.day >= start),
                                      key=lambda i: (i.day, i.event_id))[-MAX_INTERACTIONS:])
            if redo("interactions") else s.interactions,
            first_interaction_day=self.first_interaction_day,
            last_two_way=self.last_two_way,
            last_qbr=self.last_qbr,
            nps=self.nps,
            csat=self.csat,
            negative_feedback=tuple(sorted((n for n in self.negative_feedback if n.stamp.day >= start),
                                           key=lambda n: n.stamp.key)[-MAX_NEGATIVE_FEEDBACK:])
            if redo("negative_feedback") else s.negative_feedback,
            first_feedback_day=self.first_feedback_day,
            tickets=self._kept_tickets() if "tickets" in self.changed else s.tickets,
            first_ticket_day=self.first_ticket_day,
            contacts=self.contacts,
            departures=tuple(sorted(self.departures, key=lambda d: d.stamp.key)[-MAX_DEPARTURES:])
            if "departures" in self.changed else s.departures,
            contracts=self.contracts,
        )

    def _kept_tickets(self) -> dict[str, TicketState]:
        # Closed tickets are kept by count, not by age: a late `ticket.opened` must still find its
        # close, or an old ticket would come back as open.
        closed = sorted((t for t in self.tickets.values() if not t.is_open),
                        key=lambda t: t.closed.key if t.closed else t.opened.key if t.opened else _EPOCH)
        tickets = {t.ticket_id: t for t in self.tickets.values() if t.is_open}
        tickets.update((t.ticket_id, t) for t in closed[-MAX_CLOSED_TICKETS:])
        return tickets


def _stamp_key(stamp: Stamp) -> tuple[datetime, str]:
    return stamp.key


_Handler = Callable[[_Fold, Stamp, int, Mapping[str, Any]], None]

_HANDLERS: dict[str, _Handler] = {
    "usage.recorded": _Fold.usage_recorded,
    "interaction.logged": _Fold.interaction_logged,
    "ticket.opened": _Fold.ticket_opened,
    "ticket.closed": _Fold.ticket_closed,
    "survey.answered": _Fold.survey_answered,
    "contact.changed": _Fold.contact_changed,
    "contract.signed": _Fold.contract_term,
    "contract.renewed": _Fold.contract_term,
    "contract.amended": _Fold.contract_term,
    "contract.cancelled": _Fold.contract_cancelled,
}
HANDLED_EVENT_TYPES = frozenset(_HANDLERS)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _term_in_force(contract: ContractState, on: date) -> ContractTerm | None:
    started = [t for t in contract.terms if t.start_date <= on]
    return max(started, key=lambda t: t.start_date) if started else None


def _term_from(data: Mapping[str, Any], stamp: Stamp, fallback: ContractTerm | None) -> ContractTerm:
    """Term data from the event; an amendment that omits a field keeps the current term's value."""

    def pick(name: str, default: Any = None) -> Any:
        if data.get(name) is not None:
            return data[name]
        if fallback is not None:
            return getattr(fallback, name)
        if default is not None:
            return default
        raise EventRejected(f"contract event {stamp.event_id}: missing {name}")

    return ContractTerm(
        start_date=_as_date(pick("start_date")),
        end_date=_as_date(pick("end_date")),
        arr=Decimal(str(pick("arr"))),
        currency=str(pick("currency", "USD")),
        seats=int(pick("seats")),
        products=tuple(pick("products", ())),
        auto_renew=bool(data.get("auto_renew", fallback.auto_renew if fallback else False)),
        segment=data.get("segment") or (fallback.segment if fallback else None),
        stamp=stamp,
    )
