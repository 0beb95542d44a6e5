"""The fold's working copy of AccountSignals: mutable for the length of one batch, then frozen back,
trimmed to the horizon and to the caps below. `fold` adds one method per event type on top.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from services.health.domain.signals import (
    HORIZON_DAYS,
    AccountSignals,
    Stamp,
    TicketState,
    first_days_usage,
)
from shared.contracts import ContractEvent

MAX_INTERACTIONS = 400
MAX_NEGATIVE_FEEDBACK = 50
MAX_USAGE_EVIDENCE = 5
MAX_DEPARTURES = 10
MAX_CLOSED_TICKETS = 200
_EPOCH = (datetime.min.replace(tzinfo=UTC), "")
_FULL_MASK = (1 << HORIZON_DAYS) - 1


class FoldState:
    """Mutable working copy of AccountSignals for the length of one batch."""

    def __init__(self, s: AccountSignals) -> None:
        self.s = s
        self.latest_day = s.latest_day
        self.first_seen_day = s.first_seen_day
        self.user_activity = dict(s.user_activity)
        self.event_days = dict(s.event_days)
        self.feature_days = dict(s.feature_days)
        self.fresh_days: dict[str, dict[int, float]] = {}  # inner day maps copied for this fold: ours to change
        self.onboarding = s.onboarding
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
        self.contract_events: list[ContractEvent] = []
        self.profile = dict(s.profile)
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
            event_days={d: n for d, n in self.event_days.items() if d >= start} if advanced else self.event_days,
            feature_days=self._kept_feature_days(start) if advanced else self.feature_days,
            onboarding=self._onboarding(),
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
            contracts=s.contracts.add(self.contract_events),
            profile=self.profile,
        )

    def _kept_feature_days(self, start: int) -> dict[str, Mapping[int, float]]:
        kept: dict[str, Mapping[int, float]] = {}
        for feature, days in self.feature_days.items():
            recent = {d: q for d, q in days.items() if d >= start}
            if recent:
                kept[feature] = recent
        return kept

    def _onboarding(self) -> Mapping[str, float] | None:
        """Kept apart only when the account's first days leave the horizon; until then it is derived
        from the daily usage (`onboarding_usage`), so it does not depend on the events' order."""
        if self.onboarding is not None or self.first_seen_day is None or self.latest_day is None:
            return self.onboarding
        if self.latest_day - HORIZON_DAYS < self.first_seen_day:
            return None
        return first_days_usage(self.feature_days, self.first_seen_day)

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
