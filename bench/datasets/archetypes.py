"""Archetype book: a few hundred B2B accounts whose telemetry varies the way real telemetry does, and
whose churn follows their behaviour through a hidden risk, with noise.

    python -m bench.datasets.archetypes --seed 1 --out bench/.cache/datasets/archetypes-s1.jsonl.gz

Each account has a hidden daily health h(t) in [0, 1] drawn from its archetype:
  steady (h high, noisy), quiet (h steadily low), collapsing (high, then falls within weeks),
  failed onboarding (a young account whose h never takes off), growing (h rising; usage outgrows its
  seats and it upgrades), volatile (average h, large swings).
Everything observable comes from h with noise: product usage in one of four telemetry styles
(per-user events; per-account daily counts per feature; metered quantities in different units per
feature, no users; server-side events, no users), interactions and their sentiment, tickets, NPS and
CSAT, champions leaving (which lowers h: the relationship matters). Some accounts have no seats.

Outcomes are decided by the hidden h, never by any score's rules: at each renewal an annual churn
probability sigmoid(-1 + 7 (0.5 - mean h over 60 days) + noise) is applied for the term's length;
churners either give notice (contract.cancelled 30-60 days ahead) or just do not renew. Sustained
very low h may cancel mid-term. Renewals of low-h accounts may contract (fewer seats), growing
accounts amend up (more seats and ARR). A fair test: the signal is in the behaviour, not in a rule.
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.datasets.archetype_signals import (
    TELEMETRY,
    Account,
    Emitter,
    emit_engagement,
    emit_usage,
    initial_contacts,
)
from bench.datasets.common import CACHE, Envelope, midnight, write_dataset

GENERATOR_VERSION = 2
START = date(2025, 1, 1)
ARCHETYPES = {"steady": 0.33, "quiet": 0.15, "collapsing": 0.15, "failed_onboarding": 0.12, "growing": 0.15,
              "volatile": 0.10}
SEGMENTS: dict[str | None, tuple[float, int, int, float]] = {
    # weight, fewest seats, most seats, price per seat and year
    "enterprise": (0.2, 40, 120, 1200.0), "mid_market": (0.35, 12, 50, 800.0), "smb": (0.35, 3, 15, 500.0),
    None: (0.1, 5, 30, 700.0),
}


def _pick(rng: random.Random, weights: dict[Any, float]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, x))))


def _trajectory(rng: random.Random, archetype: str, days: int) -> list[float]:
    """The archetype's path of h before noise."""
    if archetype == "steady":
        level = rng.uniform(0.6, 0.9)
        return [level] * days
    if archetype == "quiet":
        level = rng.uniform(0.15, 0.4)
        return [level] * days
    if archetype == "collapsing":
        level, at, over = rng.uniform(0.65, 0.9), rng.randint(30, max(31, days - 60)), rng.randint(15, 45)
        floor = rng.uniform(0.03, 0.15)
        return [level if d < at else max(floor, level - (level - floor) * (d - at) / over) for d in range(days)]
    if archetype == "failed_onboarding":
        begin, over, floor = rng.uniform(0.35, 0.55), rng.randint(45, 100), rng.uniform(0.03, 0.15)
        return [max(floor, begin - (begin - floor) * d / over) for d in range(days)]
    if archetype == "growing":
        begin, top, over = rng.uniform(0.5, 0.7), rng.uniform(0.85, 0.98), rng.randint(120, 300)
        return [min(top, begin + (top - begin) * d / over) for d in range(days)]
    return [rng.uniform(0.45, 0.65)] * days  # volatile: its swings come from the noise


def _noisy(rng: random.Random, path: list[float], sigma: float) -> list[float]:
    out, drift = [], 0.0
    for value in path:
        drift = 0.93 * drift + rng.gauss(0.0, sigma)
        out.append(min(0.98, max(0.02, value + drift)))
    return out


def plan_account(rng: random.Random, index: int, *, days: int, prefix: str) -> Account:
    archetype = _pick(rng, ARCHETYPES)
    segment = _pick(rng, {s: v[0] for s, v in SEGMENTS.items()})
    _, low, high, per_seat = SEGMENTS[segment]
    seats = rng.randint(low, high)
    if archetype == "failed_onboarding" or rng.random() < 0.4:  # new in the window
        start = START + timedelta(days=rng.randint(0, max(1, days - 200)))
        term_start = start
    else:
        start, term_start = START, START - timedelta(days=rng.randint(0, 330))
    if segment in ("enterprise", "mid_market"):
        term_months = 12 if rng.random() < 0.8 else 3
    else:
        term_months = rng.choice((1, 1, 3, 12))
    if archetype == "failed_onboarding":
        term_months = min(term_months, 3)
    usage_priced = rng.random() < 0.12  # priced on usage: no seats at all
    arr = Decimal(round(seats * per_seat * rng.uniform(0.8, 1.2), -1))
    telemetry = _pick(rng, {"per_user": 0.35, "daily_counts": 0.25, "metered": 0.2, "server_side": 0.2})
    if telemetry == "per_user" and seats > 60 and rng.random() < 0.5:
        telemetry = "daily_counts"  # keep the book small enough: big per-user accounts are few
    span = days - (start - START).days
    sigma = 0.05 if archetype == "volatile" else 0.02
    account = Account(
        account_id=f"{prefix}-{index:04d}", segment=segment, archetype=archetype, telemetry=telemetry,
        seats=0 if usage_priced else seats, arr=arr, term_months=term_months, start=start, term_start=term_start,
        health=_noisy(rng, _trajectory(rng, archetype, span), sigma),
        features=rng.sample(TELEMETRY[telemetry], k=min(len(TELEMETRY[telemetry]), rng.randint(3, 8))),
        users=seats if seats else rng.randint(3, 30),
    )
    account.emitter = Emitter(account.account_id)
    return account


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, 28))


def _term_data(a: Account, start: date, end: date) -> dict[str, Any]:
    data: dict[str, Any] = {"contract_id": f"{a.account_id}-main", "arr": str(a.arr), "seats": a.seats,
                            "products": ["platform"], "start_date": start.isoformat(), "end_date": end.isoformat(),
                            "auto_renew": a.term_months == 1}
    if a.segment:
        data["segment"] = a.segment
    return data


def simulate(a: Account, rng: random.Random, *, end: date) -> list[Envelope]:
    """Every event of one account, from its start to `end` or until its service stops."""
    em = a.emitter
    term_end = _add_months(a.term_start, a.term_months)
    while term_end <= a.start:
        term_end = _add_months(term_end, a.term_months)
    em.emit("contract.signed", midnight(a.start), _term_data(a, a.term_start, term_end))
    contacts = initial_contacts(a, rng)
    decided: str | None = None  # "churn" once the renewal decision is taken, "renew" otherwise
    stop: date | None = None
    for offset, h_base in enumerate(a.health):
        day = a.start + timedelta(days=offset)
        if day >= end or (stop is not None and day >= stop):
            break
        h = max(0.02, h_base - a.h_penalty)
        recent = a.health[max(0, offset - 60):offset + 1]
        emit_usage(a, rng, day, h)
        a.h_penalty = emit_engagement(a, rng, day, h, contacts, a.h_penalty)
        if stop is not None:
            continue  # notice given: service runs out, nothing more is decided
        if a.archetype == "growing" and day < term_end - timedelta(days=1):
            _maybe_upgrade(a, rng, day, term_end)
        notice_day = term_end - timedelta(days=45 if a.term_months >= 3 else 2)
        if decided is None and day >= notice_day:
            mean_h = sum(recent) / len(recent) - a.h_penalty
            p_year = sigmoid(-1.0 + 7.0 * (0.5 - mean_h) + rng.gauss(0.0, 1.0))
            churn = rng.random() < 1 - (1 - p_year) ** (a.term_months / 12) or rng.random() < 0.005
            decided = "churn" if churn else "renew"
            if churn and rng.random() < 0.5:
                em.emit("contract.cancelled", midnight(day) + timedelta(hours=10),
                        {"contract_id": f"{a.account_id}-main", "end_date": term_end.isoformat(),
                         "reason": "not renewing"})
        if day == term_end:
            if decided == "churn":
                stop = term_end
                continue
            _renew(a, rng, day, mean_h=sum(recent) / len(recent) - a.h_penalty)
            new_end = _add_months(term_end, a.term_months)
            booked_early = rng.randint(0, 10 if a.term_months >= 3 else 1)
            em.emit("contract.renewed", midnight(day) - timedelta(days=booked_early),
                    _term_data(a, term_end, new_end))
            term_end, decided = new_end, None
        if len(recent) >= 30 and max(recent[-30:]) < 0.2 and rng.random() < 0.01:
            stop = day + timedelta(days=30)  # gave up mid-term: notice now, service ends in 30 days
            em.emit("contract.cancelled", midnight(day) + timedelta(hours=11),
                    {"contract_id": f"{a.account_id}-main", "end_date": stop.isoformat(), "reason": "unused"})
    return em.events


def _renew(a: Account, rng: random.Random, day: date, *, mean_h: float) -> None:
    if a.archetype == "growing" and mean_h > 0.7 and rng.random() < 0.5:
        factor = rng.uniform(1.1, 1.3)  # renews for more than it had
        a.seats = int(a.seats * factor) + 1 if a.seats else 0
        a.arr = Decimal(round(float(a.arr) * factor, -1))
    elif mean_h < 0.45 and rng.random() < 0.5 and a.seats > 2:
        factor = rng.uniform(0.6, 0.85)
        a.seats, a.arr = max(1, int(a.seats * factor)), Decimal(round(float(a.arr) * factor, -1))
    elif mean_h < 0.45 and rng.random() < 0.3 and a.seats == 0:
        a.arr = Decimal(round(float(a.arr) * rng.uniform(0.6, 0.85), -1))


def _maybe_upgrade(a: Account, rng: random.Random, day: date, term_end: date) -> None:
    """Growing accounts outgrow their plan: more users than seats (or, priced on usage, more usage)."""
    if a.last_amended is not None and (day - a.last_amended).days < 90:
        return
    growth = (day - a.start).days / 365
    if growth < 0.25 or rng.random() > 0.02:
        return
    a.users = int(a.users * 1.25) + 1
    factor = rng.uniform(1.2, 1.5)
    a.seats = int(a.seats * factor) + 1 if a.seats else 0
    a.arr = Decimal(round(float(a.arr) * factor, -1))
    a.last_amended = day
    a.emitter.emit("contract.amended", midnight(day) + timedelta(hours=15), _term_data(a, day, term_end))


def generate(*, seed: int, accounts: int = 300, months: int = 15) -> Iterator[Envelope]:
    end = _add_months(START, months)
    days = (end - START).days
    for index in range(accounts):
        rng = random.Random(f"archetypes|{seed}|{index}")
        account = plan_account(rng, index, days=days, prefix=f"arch-s{seed}")
        # a ticket closed or a renewal booked after the end would stretch the horizon past the data
        last = midnight(end).strftime("%Y-%m-%dT%H:%M:%SZ")
        events = [e for e in simulate(account, rng, end=end) if e["occurred_at"] < last]
        yield from sorted(events, key=lambda e: (e["occurred_at"], e["event_id"]))


def build(path: Path, *, seed: int, accounts: int = 300, months: int = 15) -> dict[str, Any]:
    meta = {"name": path.name.split(".")[0], "generator": "bench.datasets.archetypes",
            "generator_version": GENERATOR_VERSION, "seed": seed, "parameters": {"accounts": accounts,
                                                                                  "months": months}}
    return write_dataset(path, generate(seed=seed, accounts=accounts, months=months), meta)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--accounts", type=int, default=300)
    p.add_argument("--months", type=int, default=15)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    out = args.out or CACHE / f"archetypes-s{args.seed}.jsonl.gz"
    print(build(out, seed=args.seed, accounts=args.accounts, months=args.months))


if __name__ == "__main__":
    main()
