"""A realistic sample of telemetry, CRM and billing events for the local demo.

Deterministic for a given ``now`` and seed. Each account follows a story that an account manager
would recognise, so the demo shows why a score is what it is:

- ``steady``: most seats active every week, monthly calls, a QBR a quarter, promoters;
- ``usage_collapse``: since a month ago only about a third of the seats are active, down from 80%;
- ``champion_left``: the champion left two weeks ago and nobody replaced them;
- ``support_trouble``: urgent tickets open for over a week, more opened recently;
- ``unhappy``: detractor NPS, poor CSAT, negative call notes;
- ``gone_quiet``: usage stopped 45 days ago (no event says so: silence counts);
- ``new``: signed ten days ago, little data yet;
- ``at_seat_limit``: every seat in use, promoters, premium features: an upsell moment.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

STORIES = (
    "steady", "usage_collapse", "champion_left", "support_trouble", "unhappy", "gone_quiet", "new", "at_seat_limit",
)
SEGMENTS = ("enterprise", "mid_market", "smb")
FEATURES = ("dashboards", "reports", "alerts", "exports", "api", "sso", "workflows", "forecasting")


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
    end_date = (now + timedelta(days=a.renewal_in_days)).date()
    yield event("contract.signed", start - timedelta(hours=1), {
        "contract_id": f"ct-{a.account_id}", "arr": str(a.arr), "currency": "USD", "seats": a.seats,
        "products": ["core"] + (["analytics"] if a.segment != "smb" else []),
        "start_date": (end_date - timedelta(days=365)).isoformat(), "end_date": end_date.isoformat(),
        "auto_renew": a.segment == "smb", "segment": a.segment,
    }, "billing")

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


def _active_share(a: SampleAccount, day: int, history: int) -> float:
    days_ago = history - day
    match a.story:
        case "usage_collapse":
            return 0.8 if days_ago > 32 else 0.3
        case "gone_quiet":
            return 0.7 if days_ago > 45 else 0.0
        case "at_seat_limit":
            return 1.0
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
    features = FEATURES if a.story == "at_seat_limit" else FEATURES[: 4 if a.story != "steady" else 6]
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


