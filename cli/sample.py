"""A realistic sample of telemetry, CRM and billing events: the local demo's (`make run`) and `orchard simulate`'s.

Deterministic for a given ``now`` and seed. Each account follows a story that an account manager
would recognise, so the demo shows why a score is what it is:

- ``steady``: most seats active every week, monthly calls, a QBR a quarter, promoters;
- ``usage_collapse``: since a month ago only about a third of the seats are active, down from 80%;
- ``champion_left``: the champion left two weeks ago and nobody replaced them;
- ``support_trouble``: urgent tickets open for over a week, more opened recently;
- ``unhappy``: detractor NPS, poor CSAT, negative call notes;
- ``gone_quiet``: usage stopped 45 days ago (no event says so: silence counts);
- ``new``: signed ten days ago, little data yet;
- ``at_seat_limit``: grew into every seat and into premium features over the last 50 days,
  promoters: an upsell moment.

Their contracts tell the book's story too (``CONTRACT_STORIES``, by account number), so that
retention, the renewal forecast and the expansion pipeline have something to show. A change meant for
retention falls in the last completed quarter (GRR/NRR are only measured over ended quarters):

- ``renewed_flat``: its previous term ended in the last quarter and renewed at the same ARR;
- ``renewed_up``: likewise, renewed on a higher plan (adds Orchard Automation): expansion;
- ``downgraded``: ``contract.amended`` to fewer seats in the last quarter: contraction;
- ``renewed_early``: the renewal due within a month signed a few days ago, flat;
- ``upgraded``: ``contract.amended`` three weeks ago to more seats and Orchard Planning, which wins
  the seat-limit and Planning opportunities expansion had opened;
- ``cancelled``: ``contract.cancelled`` in the last days, ending at the renewal date: churn, on
  accounts whose health had been red for weeks before (the signal came first).

A few contracts are in euros or pounds (``CURRENCIES``): per-currency figures, and consolidated ones
when an exchange-rate table is configured (the local run sets ``ORCHARD_FX_RATES``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.periods import quarter_of

STORIES = (
    "steady", "usage_collapse", "champion_left", "support_trouble", "unhappy", "gone_quiet", "new", "at_seat_limit",
)
SEGMENTS = ("enterprise", "mid_market", "smb")
FEATURES = ("dashboards", "reports", "alerts", "exports", "api", "sso", "workflows", "forecasting")
CONTRACT_STORIES = {
    1: "renewed_early", 6: "cancelled", 9: "renewed_flat", 13: "downgraded", 17: "renewed_up", 21: "downgraded",
    22: "cancelled", 24: "upgraded",
}
"""Account number -> what its contract does; the others stay in the term they signed."""
CURRENCIES = {13: "EUR", 16: "EUR", 17: "GBP", 20: "GBP"}
GROWTH_DAYS = 50
"""How long ago the at_seat_limit accounts grew into every seat and into premium features."""


Event = dict[str, Any]
MakeEvent = Callable[[str, datetime, dict[str, Any], str], Event]


@dataclass(frozen=True)
class SampleAccount:
    account_id: str
    name: str
    story: str
    segment: str
    seats: int
    arr: int
    renewal_in_days: int
    """Days to the end of the term it signed (a renewed account's current term runs a year from its
    renewal instead)."""
    currency: str = "USD"
    contract_story: str = "first_term"


def sample_accounts(count: int = 24, *, seed: int = 7) -> list[SampleAccount]:
    rng = random.Random(seed)
    accounts = []
    for i in range(count):
        story = STORIES[i % len(STORIES)]
        segment = SEGMENTS[i % len(SEGMENTS)]
        seats = {"enterprise": rng.randint(80, 200), "mid_market": rng.randint(25, 80), "smb": rng.randint(5, 20)}[
            segment
        ]
        price = {"enterprise": 1200, "mid_market": 900, "smb": 600}[segment]
        accounts.append(
            SampleAccount(
                account_id=f"acct-{i + 1:03d}",
                name=f"{rng.choice(['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne'])} "
                f"{rng.choice(['Labs', 'Logistics', 'Health', 'Retail', 'Energy', 'Media'])} {i + 1}",
                story=story,
                segment=segment,
                seats=seats,
                arr=seats * price,
                renewal_in_days=rng.choice([25, 60, 85, 140, 200, 300]),
                currency=CURRENCIES.get(i + 1, "USD"),
                contract_story=CONTRACT_STORIES.get(i + 1, "first_term"),
            )
        )
    return accounts


def generate_sample(now: datetime, *, accounts: int = 24, days: int = 120, seed: int = 7) -> list[dict[str, Any]]:
    """Every event of the sample, in event-time order, as contract envelopes."""
    events: list[dict[str, Any]] = []
    for account in sample_accounts(accounts, seed=seed):
        events.extend(_account_events(account, now, days, random.Random(f"{seed}:{account.account_id}")))
    events.sort(key=lambda e: e["occurred_at"])
    return events


def _account_events(a: SampleAccount, now: datetime, days: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    seq = iter(range(1_000_000))

    def event(kind: str, at: datetime, data: dict[str, Any], source: str) -> dict[str, Any]:
        return {
            "event_id": f"sample-{a.account_id}-{next(seq):06d}",
            "type": kind,
            "schema_version": 1,
            "account_id": a.account_id,
            "occurred_at": at.isoformat(),
            "source": source,
            "data": data,
        }

    history = 10 if a.story == "new" else days
    start = now - timedelta(days=history)
    yield from _contract_events(a, now, start, event)

    contacts = [f"{a.account_id}-c{k}" for k in range(1, 7)]
    roles = ["champion", "exec_sponsor", "user", "user", "user"]
    for contact, role in zip(contacts, roles, strict=False):
        yield event("contact.changed", start, {"contact_id": contact, "role": role, "change": "joined"}, "crm")

    users = [f"{a.account_id}-u{k}" for k in range(a.seats)]
    for day in range(history):
        at = start + timedelta(days=day, hours=9)
        yield from _usage_day(a, users, day, history, at, rng, event)

    for day in range(0, history, 14):  # fortnightly touches
        at = start + timedelta(days=day, hours=15)
        if a.story == "gone_quiet" and day > history - 50:
            continue
        sentiment = -0.7 if a.story == "unhappy" and day > history - 45 else 0.4
        yield event("interaction.logged", at, {
            "channel": rng.choice(["call", "meeting", "email"]), "direction": rng.choice(["inbound", "outbound"]),
            "contact_id": contacts[0], "sentiment": sentiment, "summary": "check-in on adoption and roadmap",
        }, "crm")
    for day in range(20, history, 90):
        if a.story not in ("gone_quiet", "new"):
            yield event("interaction.logged", start + timedelta(days=day), {
                "channel": "qbr", "direction": "outbound", "contact_id": contacts[1], "sentiment": 0.5,
            }, "crm")

    yield from _surveys(a, now, history, contacts, event)
    yield from _tickets(a, now, history, rng, event)
    if a.story == "champion_left":
        yield event("contact.changed", now - timedelta(days=14), {
            "contact_id": contacts[0], "role": "champion", "change": "left"}, "crm")


def last_quarter_day(now: datetime, history_start: datetime, share: float) -> date:
    """A day `share` of the way through the part of the last completed quarter that the history
    covers (the whole quarter when the history does not reach back to it)."""
    last = quarter_of(quarter_of(now.date()).start - timedelta(days=1))
    first, final = max(last.start, history_start.date() + timedelta(days=1)), last.end - timedelta(days=1)
    if first >= final:
        first = last.start
    return first + timedelta(days=int((final - first).days * share))


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _contract_events(a: SampleAccount, now: datetime, start: datetime, event: MakeEvent) -> Iterator[Event]:
    """The account's contract as billing reports it: the term it signed, then its contract story."""
    products = ["core"] + (["analytics"] if a.segment != "smb" else [])
    per_seat = a.arr // a.seats

    def term(begins: date, ends: date, seats: int, arr: int, owned: list[str]) -> dict[str, Any]:
        return {"contract_id": f"ct-{a.account_id}", "arr": str(arr), "currency": a.currency, "seats": seats,
                "products": owned, "start_date": begins.isoformat(), "end_date": ends.isoformat(),
                "auto_renew": a.segment == "smb", "segment": a.segment}

    end_date = (now + timedelta(days=a.renewal_in_days)).date()
    signed = term(end_date - timedelta(days=365), end_date, a.seats, a.arr, products)
    signed_at = start - timedelta(hours=1)
    match a.contract_story:
        case "renewed_flat" | "renewed_up":
            renews_on = last_quarter_day(now, start, 0.4)
            renewed_at = _at(renews_on - timedelta(days=10), 11)  # signed before the new term starts
            yield event("contract.signed", min(signed_at, renewed_at - timedelta(days=30)), term(
                renews_on - timedelta(days=365), renews_on - timedelta(days=1), a.seats, a.arr, products), "billing")
            up = a.contract_story == "renewed_up"  # a higher plan: Orchard Automation at its list price
            yield event("contract.renewed", renewed_at, term(
                renews_on, renews_on + timedelta(days=364), a.seats, a.arr + (a.seats * 180 if up else 0),
                products + (["automation"] if up else [])), "billing")
        case "downgraded":
            amended_at = _at(last_quarter_day(now, start, 0.6), 10)
            seats = round(a.seats * 0.7)  # fewer seats, same plan: they pay for the users they have
            yield event("contract.signed", min(signed_at, amended_at - timedelta(days=30)), signed, "billing")
            yield event("contract.amended", amended_at, {**signed, "seats": seats, "arr": str(seats * per_seat)},
                        "billing")
        case "upgraded":
            yield event("contract.signed", signed_at, signed, "billing")
            seats = a.seats + max(1, a.seats // 4)  # room to grow, and Orchard Planning at its list price
            yield event("contract.amended", now - timedelta(days=min(21, (now - start).days // 2)), {
                **signed, "seats": seats, "arr": str(seats * (per_seat + 300)), "products": [*products, "planning"]},
                "billing")
        case "renewed_early":
            yield event("contract.signed", signed_at, signed, "billing")
            yield event("contract.renewed", now - timedelta(days=5), term(
                end_date + timedelta(days=1), end_date + timedelta(days=365), a.seats, a.arr, products), "billing")
        case "cancelled":
            yield event("contract.signed", signed_at, signed, "billing")
            reason = "moving to a competitor" if a.segment == "enterprise" else "no longer using the product"
            yield event("contract.cancelled", now - timedelta(days=6), {
                "contract_id": signed["contract_id"], "end_date": end_date.isoformat(), "reason": reason}, "billing")
        case _:
            yield event("contract.signed", signed_at, signed, "billing")


def _active_share(a: SampleAccount, day: int, history: int) -> float:
    days_ago = history - day
    match a.story:
        case "usage_collapse":
            return 0.8 if days_ago > 32 else 0.3
        case "gone_quiet":
            return 0.7 if days_ago > 45 else 0.0
        case "at_seat_limit":
            return 1.0 if days_ago <= GROWTH_DAYS else 0.7
        case "new":
            return 0.3
        case "unhappy":
            return 0.55
        case _:
            return 0.8


def _usage_day(
    a: SampleAccount, users: list[str], day: int, history: int, at: datetime, rng: random.Random, event: MakeEvent
) -> Iterator[Event]:
    share = _active_share(a, day, history)
    if share <= 0 or (at.weekday() >= 5):
        return
    active = users[: max(0, round(len(users) * share))]
    grown = a.story == "at_seat_limit" and history - day <= GROWTH_DAYS
    features = FEATURES if grown else FEATURES[: 6 if a.story in ("steady", "at_seat_limit") else 4]
    for user in active:
        if rng.random() < 0.6:  # not everyone logs in every day
            yield event("usage.recorded", at + timedelta(minutes=rng.randint(0, 480)), {
                "user_id": user, "feature": rng.choice(features), "quantity": rng.randint(1, 12), "product": "core",
            }, "telemetry")


def _surveys(a: SampleAccount, now: datetime, history: int, contacts: list[str], event: MakeEvent) -> Iterator[Event]:
    nps = {"unhappy": 3, "at_seat_limit": 10, "usage_collapse": 7, "new": None}.get(a.story, 9)
    if nps is not None:
        yield event("survey.answered", now - timedelta(days=min(history - 1, 20)), {
            "kind": "nps", "score": nps, "contact_id": contacts[2]}, "survey-tool")
    if a.story == "unhappy":
        for k in range(3):
            yield event("survey.answered", now - timedelta(days=5 + 7 * k), {
                "kind": "csat", "score": 1, "contact_id": contacts[3], "comment": "slow and buggy exports"},
                "survey-tool")


def _tickets(a: SampleAccount, now: datetime, history: int, rng: random.Random, event: MakeEvent) -> Iterator[Event]:
    for k in range(3):
        opened = now - timedelta(days=rng.randint(15, max(16, history - 1)))
        yield event("ticket.opened", opened, {"ticket_id": f"{a.account_id}-t{k}", "severity": "normal"}, "helpdesk")
        yield event("ticket.closed", opened + timedelta(days=2), {"ticket_id": f"{a.account_id}-t{k}"}, "helpdesk")
    if a.story == "support_trouble":
        for k in range(2):
            yield event("ticket.opened", now - timedelta(days=9 + k), {
                "ticket_id": f"{a.account_id}-u{k}", "severity": "urgent", "subject": "exports fail for all users"},
                "helpdesk")
        for k in range(4):
            yield event("ticket.opened", now - timedelta(days=2 + k), {
                "ticket_id": f"{a.account_id}-h{k}", "severity": "high"}, "helpdesk")


