"""Folding validated events into AccountSignals.

`apply_events` is the batch form the shell should use (one copy of the state per account per
batch); `apply_event` is the same for one event. Both take event time from `occurred_at`, never
from arrival, so the resulting state does not depend on the order events arrive in (within the
horizon; an event arriving more than `HORIZON_DAYS` late can only change "latest" registers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from services.health.domain.fold_state import FoldState
from services.health.domain.signals import (
    KEY_ROLES,
    NEGATIVE_CSAT_MAX,
    NEGATIVE_NPS_MAX,
    NEGATIVE_SENTIMENT_MAX,
    PROFILE_FIELDS,
    TWO_WAY_CHANNELS,
    AccountSignals,
    ContactState,
    Departure,
    Interaction,
    NegativeFeedback,
    ProfileValue,
    Stamp,
    SurveyAnswer,
    TicketState,
)
from shared.contracts import CONTRACT_EVENT_TYPES, contract_event
from shared.days import day_number, require_aware
from shared.rejection import EventRejected
from shared.signal_events import SignalEvent


class UnknownEventType(EventRejected):
    """The health domain has no rule for this event type: the event goes to the DLQ with the reason
    (a type added to the contract that health does not read yet must not stop the service)."""


FOLD_REJECTIONS: tuple[type[Exception], ...] = (EventRejected,)
"""What the fold raises when an event's data cannot be applied (the event goes to the DLQ with the
reason; anything else is a bug and stops the consumer)."""


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


class _Fold(FoldState):
    """The working copy with one rule per event type (see `FoldState` for the state and freezing)."""

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
        self.event_days[day] = self.event_days.get(day, 0) + 1
        feature = data.get("feature") or "(none)"
        days = self.fresh_days.get(feature)
        if days is None:
            days = self.fresh_days[feature] = dict(self.feature_days.get(feature, {}))
            self.feature_days[feature] = days
        days[day] = days.get(day, 0.0) + quantity
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

    def contract_event(self, event_type: str, stamp: Stamp, day: int, data: Mapping[str, Any]) -> None:
        """Kept whole, and folded once per batch by the rule all services share (`shared.contracts`)."""
        self.contract_events.append(contract_event(event_id=stamp.event_id, event_type=event_type,
                                                   occurred_at=stamp.at, data=data))

    def account_updated(self, stamp: Stamp, day: int, data: Mapping[str, Any]) -> None:
        """Each field the event names (absent ones are not in `data`; None clears one) takes its
        value if the event is the latest for that field."""
        for name in PROFILE_FIELDS:
            if name in data:
                known = self.profile.get(name)
                if known is None or stamp.key > known.stamp.key:
                    value = data[name]
                    self.profile[name] = ProfileValue(None if value is None else str(value), stamp)


_Handler = Callable[[_Fold, Stamp, int, Mapping[str, Any]], None]



def _contract_handler(event_type: str) -> _Handler:
    def handler(fold: _Fold, stamp: Stamp, day: int, data: Mapping[str, Any]) -> None:
        fold.contract_event(event_type, stamp, day, data)
    return handler


_HANDLERS: dict[str, _Handler] = {
    "usage.recorded": _Fold.usage_recorded,
    "interaction.logged": _Fold.interaction_logged,
    "ticket.opened": _Fold.ticket_opened,
    "ticket.closed": _Fold.ticket_closed,
    "survey.answered": _Fold.survey_answered,
    "contact.changed": _Fold.contact_changed,
    **{kind: _contract_handler(kind) for kind in sorted(CONTRACT_EVENT_TYPES)},
    "account.updated": _Fold.account_updated,
}
HANDLED_EVENT_TYPES = frozenset(_HANDLERS)
