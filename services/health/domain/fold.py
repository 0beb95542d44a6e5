"""Folding validated events into AccountSignals.

`apply_events` is the batch form the shell should use (one copy of the state per account per
batch); `apply_event` is the same for one event. Both take event time from `occurred_at`, never
from arrival, so the resulting state does not depend on the order events arrive in (within the
horizon; an event arriving more than `HORIZON_DAYS` late can only change "latest" registers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from services.health.domain.fold_state import FoldState
from services.health.domain.signals import (
    KEY_ROLES,
    NEGATIVE_CSAT_MAX,
    NEGATIVE_NPS_MAX,
    NEGATIVE_SENTIMENT_MAX,
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
from shared.contracts import contract_event
from shared.days import day_number, require_aware
from shared.events import (
    DATA_MODEL_BY_TYPE,
    AccountUpdated,
    ContactChanged,
    ContractCancelled,
    ContractTerms,
    InteractionLogged,
    SurveyAnswered,
    TicketClosed,
    TicketOpened,
    UsageRecorded,
)
from shared.rejection import EventRejected
from shared.signal_events import SignalEvent


class UnknownEventType(EventRejected):
    """The health domain has no rule for this event type: the event goes to the DLQ with the reason
    (a type added to the contract that health does not read yet must not stop the service)."""


FOLD_REJECTIONS: tuple[type[Exception], ...] = (EventRejected,)
"""What the fold raises when an event's data cannot be applied (the event goes to the DLQ with the
reason; anything else is a bug and stops the consumer)."""


def apply_event(signals: AccountSignals, event: SignalEvent) -> AccountSignals:
    return apply_events(signals, [event])


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
        if event.event_type not in HANDLED_EVENT_TYPES:
            raise UnknownEventType(f"no health rule for event type {event.event_type!r}")
        at = require_aware(event.occurred_at, "occurred_at")
        day = day_number(at)
        self._advance(day)
        self.first_seen_day = _earlier(self.first_seen_day, day)
        stamp, data = Stamp(at, event.event_id), event.data
        # One rule per payload model (`SignalEvent` ties each type to its model).
        match data:
            case UsageRecorded():
                self.usage_recorded(stamp, day, data)
            case InteractionLogged():
                self.interaction_logged(stamp, day, data)
            case TicketOpened():
                self.ticket_opened(stamp, day, data)
            case TicketClosed():
                self.ticket_closed(stamp, day, data)
            case SurveyAnswered():
                self.survey_answered(stamp, day, data)
            case ContactChanged():
                self.contact_changed(stamp, data)
            case ContractTerms() | ContractCancelled():
                self.contract_event(event.event_type, stamp, data)
            case AccountUpdated():
                self.account_updated(stamp, data)
            case _:
                raise UnknownEventType(f"no health rule for event type {event.event_type!r}")

    # --- per event type ---

    def usage_recorded(self, stamp: Stamp, day: int, data: UsageRecorded) -> None:
        self.first_usage_day = _earlier(self.first_usage_day, day)
        self.last_usage = _later(self.last_usage, stamp)
        self.usage_evidence.append(stamp)
        self.changed.add("usage_evidence")
        if not self._in_window(day):
            return
        assert self.latest_day is not None
        if data.user_id:
            bit = 1 << (self.latest_day - day)
            self.user_activity[data.user_id] = self.user_activity.get(data.user_id, 0) | bit
        self.event_days[day] = self.event_days.get(day, 0) + 1
        feature = data.feature
        days = self.fresh_days.get(feature)
        if days is None:
            days = self.fresh_days[feature] = dict(self.feature_days.get(feature, {}))
            self.feature_days[feature] = days
        days[day] = days.get(day, 0.0) + data.quantity
        self.feature_last_used[feature] = _later(self.feature_last_used.get(feature), stamp)

    def interaction_logged(self, stamp: Stamp, day: int, data: InteractionLogged) -> None:
        channel, direction, sentiment = data.channel, data.direction, data.sentiment
        self.first_interaction_day = _earlier(self.first_interaction_day, day)
        if channel in TWO_WAY_CHANNELS or direction == "inbound":
            self.last_two_way = _later(self.last_two_way, stamp)
        if channel == "qbr":
            self.last_qbr = _later(self.last_qbr, stamp)
        if sentiment is not None:
            self.first_feedback_day = _earlier(self.first_feedback_day, day)
        if not self._in_window(day):
            return
        self.interactions.append(Interaction(day, channel, direction, data.contact_id, stamp.event_id))
        self.changed.add("interactions")
        if sentiment is not None and sentiment <= NEGATIVE_SENTIMENT_MAX:
            self.negative_feedback.append(NegativeFeedback("interaction", sentiment, stamp))
            self.changed.add("negative_feedback")

    def ticket_opened(self, stamp: Stamp, day: int, data: TicketOpened) -> None:
        ticket = self.tickets.get(data.ticket_id) or TicketState(data.ticket_id)
        if ticket.opened is None or stamp.key > ticket.opened.key:
            self.tickets[data.ticket_id] = replace(ticket, opened=stamp, severity=data.severity)
            self.changed.add("tickets")
        self.first_ticket_day = _earlier(self.first_ticket_day, day)

    def ticket_closed(self, stamp: Stamp, day: int, data: TicketClosed) -> None:
        ticket = self.tickets.get(data.ticket_id) or TicketState(data.ticket_id)
        self.tickets[data.ticket_id] = replace(ticket, closed=_later(ticket.closed, stamp))
        self.changed.add("tickets")
        self.first_ticket_day = _earlier(self.first_ticket_day, day)

    def survey_answered(self, stamp: Stamp, day: int, data: SurveyAnswered) -> None:
        kind, score = data.kind, data.score
        answer = SurveyAnswer(kind, score, stamp, data.contact_id)
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

    def contact_changed(self, stamp: Stamp, data: ContactChanged) -> None:
        contact_id, role, change, new_role = data.contact_id, data.role, data.change, data.new_role
        incoming = ContactState(contact_id, new_role or role, change != "left", stamp, data.name)
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

    def contract_event(self, event_type: str, stamp: Stamp, data: ContractTerms | ContractCancelled) -> None:
        """Kept whole, and folded once per batch by the rule all services share (`shared.contracts`)."""
        self.contract_events.append(contract_event(event_id=stamp.event_id, event_type=event_type,
                                                   occurred_at=stamp.at, data=data))

    def account_updated(self, stamp: Stamp, data: AccountUpdated) -> None:
        """Each field the event names (`changes()`: None clears one) takes its value if the event is
        the latest for that field."""
        for name, value in data.changes().items():
            known = self.profile.get(name)
            if known is None or stamp.key > known.stamp.key:
                self.profile[name] = ProfileValue(value, stamp)


HANDLED_EVENT_TYPES: frozenset[str] = frozenset(DATA_MODEL_BY_TYPE)
"""Every input event type: the fold has a rule for each payload model."""
