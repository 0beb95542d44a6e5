"""AccountSignals: the small state the health score is computed from, folded from events.

Why a fold and not the event history: an account produces thousands of events, and 10,000 accounts
are rescored on a schedule. The score only looks at the last ~120 days of activity plus a handful
of "latest known" facts (last NPS, open tickets, contacts, contracts), so that is all we keep:

* windows (user activity, usage per day, interactions, negative feedback) cover `HORIZON_DAYS`
  before the newest event seen; anything older is dropped;
* registers keep the latest value per key by event time (`Stamp`), so events arriving out of
  order give the same state as in order (ties broken by event id);
* bounded lists keep the N latest items by (time, event id), which is again order-independent.

Every fact keeps the event id that established it, so explanations can cite evidence.
Idempotency (the same event id twice) is the shell's job (processed-events table); the fold
assumes each event is applied once.

JSON: `signals_to_json` / `signals_from_json` produce and read only str, int, float, bool, None,
lists and dicts with str keys (Decimal as string, dates and datetimes as ISO text, bitmasks as hex).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.contracts import EMPTY_HISTORY, ContractHistory, contract_event, history_from_json, history_to_json
from shared.days import day_number, parse_moment

HORIZON_DAYS = 120
"""Days of activity kept before the newest event: covers two 30-day windows and a 90-day one."""

ONBOARDING_DAYS = 30
"""A young account's usage is compared with what established accounts did in their first 30 days."""

KEY_ROLES = ("champion", "exec_sponsor")
"""Contacts whose departure is a churn signal on its own."""

TWO_WAY_CHANNELS = frozenset({"meeting", "call", "qbr"})
"""A meeting, call or QBR needs both sides present, so it counts as a two-way touch whatever its
direction; an email or chat counts only when the customer wrote (direction `inbound`). Outbound
mail that nobody answers is not a conversation."""

NEGATIVE_NPS_MAX = 6
NEGATIVE_CSAT_MAX = 2
NEGATIVE_SENTIMENT_MAX = -0.5


@dataclass(frozen=True, slots=True)
class Stamp:
    """When a fact was established, and by which event: both the ordering key and the evidence."""

    at: datetime
    event_id: str
    day: int = field(init=False, repr=False, compare=False)
    """The UTC day of `at`, computed once: windows ask for it on every score."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "day", day_number(self.at))

    @property
    def key(self) -> tuple[datetime, str]:
        return (self.at, self.event_id)


@dataclass(frozen=True, slots=True)
class Interaction:
    day: int
    channel: str
    direction: str | None
    contact_id: str | None
    event_id: str


@dataclass(frozen=True, slots=True)
class SurveyAnswer:
    kind: str  # "nps" | "csat"
    score: int
    stamp: Stamp
    contact_id: str | None = None


@dataclass(frozen=True, slots=True)
class NegativeFeedback:
    source: str  # "nps" | "csat" | "interaction"
    value: float
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class TicketState:
    """Latest open and latest close of one ticket; open iff opened after its last close."""

    ticket_id: str
    severity: str | None = None
    opened: Stamp | None = None
    closed: Stamp | None = None

    @property
    def is_open(self) -> bool:
        return self.opened is not None and (self.closed is None or self.closed.key < self.opened.key)


@dataclass(frozen=True, slots=True)
class ContactState:
    """The latest change seen for a contact: its role from `since` on, and whether still there."""

    contact_id: str
    role: str
    active: bool
    since: Stamp
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Departure:
    """A champion or executive sponsor who left, or whose role changed away from it."""

    contact_id: str
    role: str
    stamp: Stamp
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ProfileValue:
    """One profile field's latest value (None once cleared) and the event that set it."""

    value: str | None
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class AccountSignals:
    latest_day: int | None = None
    first_seen_day: int | None = None
    # usage: bit k of a user's mask is set when the user was active on day latest_day - k
    user_activity: Mapping[str, int] = field(default_factory=dict)
    event_days: Mapping[int, int] = field(default_factory=dict)
    """day -> usage events that day (a count, whatever their quantities)."""
    feature_days: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    """feature -> day -> summed quantity: per feature, so that units never mix."""
    onboarding: Mapping[str, float] | None = None
    """feature -> quantity in the account's first ONBOARDING_DAYS days, once they have passed."""
    feature_last_used: Mapping[str, Stamp] = field(default_factory=dict)
    first_usage_day: int | None = None
    last_usage: Stamp | None = None
    usage_evidence: tuple[Stamp, ...] = ()
    # engagement
    interactions: tuple[Interaction, ...] = ()
    first_interaction_day: int | None = None
    last_two_way: Stamp | None = None
    last_qbr: Stamp | None = None
    # sentiment
    nps: SurveyAnswer | None = None
    csat: SurveyAnswer | None = None
    negative_feedback: tuple[NegativeFeedback, ...] = ()
    first_feedback_day: int | None = None
    # support
    tickets: Mapping[str, TicketState] = field(default_factory=dict)
    first_ticket_day: int | None = None
    # relationship
    contacts: Mapping[str, ContactState] = field(default_factory=dict)
    departures: tuple[Departure, ...] = ()
    # contracts: every contract event, folded by the rule all services share (shared.contracts)
    contracts: ContractHistory = EMPTY_HISTORY
    # the account as people know it: field -> latest value by event time (account.updated)
    profile: Mapping[str, ProfileValue] = field(default_factory=dict)

    def profile_value(self, name: str) -> str | None:
        known = self.profile.get(name)
        return None if known is None else known.value


EMPTY_SIGNALS = AccountSignals()


def first_days_usage(feature_days: Mapping[str, Mapping[int, float]], first_day: int) -> dict[str, float]:
    """Quantity per feature in the ONBOARDING_DAYS days from `first_day` on."""
    end = first_day + ONBOARDING_DAYS
    return {f: total for f, days in feature_days.items() if (total := sum(q for d, q in days.items() if d < end))}


def onboarding_usage(s: AccountSignals) -> Mapping[str, float] | None:
    """What the account used in its first ONBOARDING_DAYS days, once they have all passed."""
    if s.onboarding is not None:
        return s.onboarding
    if s.first_seen_day is None or s.latest_day is None or s.latest_day < s.first_seen_day + ONBOARDING_DAYS:
        return None
    return first_days_usage(s.feature_days, s.first_seen_day)


# --- JSON ---------------------------------------------------------------------------------------


def _stamp_json(stamp: Stamp | None) -> list[str] | None:
    return None if stamp is None else [stamp.at.isoformat(), stamp.event_id]


def _stamp(raw: Any) -> Stamp:
    return Stamp(at=parse_moment(raw[0]), event_id=raw[1])


def _opt_stamp(raw: Any) -> Stamp | None:
    return None if raw is None else _stamp(raw)


def _survey_json(answer: SurveyAnswer | None) -> dict[str, Any] | None:
    if answer is None:
        return None
    return {"kind": answer.kind, "score": answer.score, "stamp": _stamp_json(answer.stamp),
            "contact_id": answer.contact_id}


def _survey(raw: Any) -> SurveyAnswer | None:
    if raw is None:
        return None
    return SurveyAnswer(kind=raw["kind"], score=raw["score"], stamp=_stamp(raw["stamp"]),
                        contact_id=raw["contact_id"])


def signals_to_json(signals: AccountSignals) -> dict[str, Any]:
    s = signals
    return {
        "latest_day": s.latest_day,
        "first_seen_day": s.first_seen_day,
        "user_activity": {user: format(mask, "x") for user, mask in s.user_activity.items()},
        "event_days": [[day, n] for day, n in sorted(s.event_days.items())],
        "feature_days": {f: [[day, qty] for day, qty in sorted(days.items())] for f, days in s.feature_days.items()},
        "onboarding": None if s.onboarding is None else dict(s.onboarding),
        "feature_last_used": {f: _stamp_json(st) for f, st in s.feature_last_used.items()},
        "first_usage_day": s.first_usage_day,
        "last_usage": _stamp_json(s.last_usage),
        "usage_evidence": [_stamp_json(st) for st in s.usage_evidence],
        "interactions": [[i.day, i.channel, i.direction, i.contact_id, i.event_id] for i in s.interactions],
        "first_interaction_day": s.first_interaction_day,
        "last_two_way": _stamp_json(s.last_two_way),
        "last_qbr": _stamp_json(s.last_qbr),
        "nps": _survey_json(s.nps),
        "csat": _survey_json(s.csat),
        "negative_feedback": [[n.source, n.value, _stamp_json(n.stamp)] for n in s.negative_feedback],
        "first_feedback_day": s.first_feedback_day,
        "tickets": {t.ticket_id: [t.severity, _stamp_json(t.opened), _stamp_json(t.closed)]
                    for t in s.tickets.values()},
        "first_ticket_day": s.first_ticket_day,
        "contacts": {c.contact_id: [c.role, c.active, _stamp_json(c.since), c.name]
                     for c in s.contacts.values()},
        "departures": [[d.contact_id, d.role, _stamp_json(d.stamp), d.name] for d in s.departures],
        "contract_events": history_to_json(s.contracts),
        "profile": {name: [p.value, _stamp_json(p.stamp)] for name, p in s.profile.items()},
    }


def signals_from_json(raw: Mapping[str, Any]) -> AccountSignals:
    return AccountSignals(
        latest_day=raw["latest_day"],
        first_seen_day=raw["first_seen_day"],
        user_activity={user: int(mask, 16) for user, mask in raw["user_activity"].items()},
        event_days={int(day): int(n) for day, n in raw.get("event_days", ())},
        feature_days={f: {int(day): float(qty) for day, qty in days}
                      for f, days in raw.get("feature_days", {}).items()},
        onboarding=None if raw.get("onboarding") is None else {f: float(q) for f, q in raw["onboarding"].items()},
        feature_last_used={f: _stamp(st) for f, st in raw["feature_last_used"].items()},
        first_usage_day=raw["first_usage_day"],
        last_usage=_opt_stamp(raw["last_usage"]),
        usage_evidence=tuple(_stamp(st) for st in raw["usage_evidence"]),
        interactions=tuple(Interaction(day=i[0], channel=i[1], direction=i[2], contact_id=i[3],
                                       event_id=i[4]) for i in raw["interactions"]),
        first_interaction_day=raw["first_interaction_day"],
        last_two_way=_opt_stamp(raw["last_two_way"]),
        last_qbr=_opt_stamp(raw["last_qbr"]),
        nps=_survey(raw["nps"]),
        csat=_survey(raw["csat"]),
        negative_feedback=tuple(NegativeFeedback(source=n[0], value=float(n[1]), stamp=_stamp(n[2]))
                                for n in raw["negative_feedback"]),
        first_feedback_day=raw["first_feedback_day"],
        tickets={tid: TicketState(ticket_id=tid, severity=t[0], opened=_opt_stamp(t[1]),
                                  closed=_opt_stamp(t[2])) for tid, t in raw["tickets"].items()},
        first_ticket_day=raw["first_ticket_day"],
        contacts={cid: ContactState(contact_id=cid, role=c[0], active=c[1], since=_stamp(c[2]), name=c[3])
                  for cid, c in raw["contacts"].items()},
        departures=tuple(Departure(contact_id=d[0], role=d[1], stamp=_stamp(d[2]), name=d[3])
                         for d in raw["departures"]),
        contracts=history_from_json(raw["contract_events"]) if "contract_events" in raw
        else _contracts_stored_before(raw.get("contracts") or {}),
        profile={name: ProfileValue(p[0], _stamp(p[1])) for name, p in raw.get("profile", {}).items()},
    )


def _contracts_stored_before(stored: Mapping[str, Any]) -> ContractHistory:
    """State stored before contract events were kept held up to four terms per contract, each with
    the event that last set it, and a cancellation: each becomes that event again (the first term a
    signature, the later ones renewals), which folds back to the same terms."""
    events = []
    for contract_id, kept in stored.items():
        for index, term in enumerate(sorted(kept["terms"], key=lambda t: t["start_date"])):
            data = {name: term[name] for name in ("start_date", "end_date", "arr", "currency", "seats", "products",
                                                  "auto_renew", "segment")}
            events.append(contract_event(event_id=term["stamp"][1],
                                         event_type="contract.renewed" if index else "contract.signed",
                                         occurred_at=parse_moment(term["stamp"][0]),
                                         data={**data, "contract_id": contract_id}))
        if kept.get("cancellation") is not None:
            end_date, stamp = kept["cancellation"]
            events.append(contract_event(event_id=stamp[1], event_type="contract.cancelled",
                                         occurred_at=parse_moment(stamp[0]),
                                         data={"contract_id": contract_id, "end_date": end_date}))
    return EMPTY_HISTORY.add(events)
