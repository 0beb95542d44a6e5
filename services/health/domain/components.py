"""The health components besides usage (`usage.py`), each a pure function of (signals, context) ->
ComponentScore.

Windows end at `as_of`, so silence counts: when events stop, recent windows empty out, "days
since" grow, and the score falls as `as_of` advances, with no new event needed. Missing data is
not bad data: a component the account has never produced data for is None (see the scorecard's
missing-data policy), and targets are pro-rated over the days we have known the account.
"""

from __future__ import annotations

from services.health.domain.measures import (
    ComponentScore,
    Fact,
    Part,
    ScoringContext,
    component,
    contact_label,
    days_ago,
    missing_component,
    plural,
    ramp,
    unreplaced_departures,
)
from services.health.domain.signals import AccountSignals

NPS_POINTS = (0, 5, 10, 15, 20, 30, 40, 60, 75, 90, 100)  # by answer 0-10: detractors stay low
CSAT_POINTS = {1: 0, 2: 25, 3: 55, 4: 80, 5: 100}
SURVEY_HALF_LIFE_DAYS = 90
"""A survey answer's distance from neutral halves every 90 days: old praise and old complaints
both fade towards 50, and after SURVEY_RELEVANCE_DAYS the answer no longer counts."""
SURVEY_RELEVANCE_DAYS = 365
SEVERITY_LOAD = {"low": 1, "normal": 2, "high": 4, "urgent": 8}


def score_engagement(s: AccountSignals, ctx: ScoringContext) -> ComponentScore:
    a, targets = ctx.as_of_day, ctx.targets
    if s.first_interaction_day is None or s.first_interaction_day > a:
        return missing_component("engagement", "no interactions recorded yet")
    recent = [i for i in s.interactions if a - 29 <= i.day <= a]
    prior_count = sum(1 for i in s.interactions if a - 59 <= i.day <= a - 30)
    expected = targets.touches_per_30d * min(30, ctx.days_known) / 30
    touches = Part("touches", round(min(1.0, len(recent) / expected) * 100, 1), 0.4,
                   f"{plural(len(recent), 'interaction')} in the last 30 days (expected about {expected:.0f})",
                   tuple(i.event_id for i in recent[-5:]))

    two_way = s.last_two_way if s.last_two_way is not None and s.last_two_way.day <= a else None
    if two_way is not None:
        since_two_way = a - two_way.day
        two_way_detail = f"last two-way touch {days_ago(since_two_way)}"
    else:
        since_two_way = ctx.days_known
        two_way_detail = f"no two-way touch in the {ctx.days_known} days since the account was first seen"
    conversation = Part("two_way", ramp(since_two_way, 14, 60), 0.4, two_way_detail,
                        (two_way.event_id,) if two_way else ())

    qbr_days = None if s.last_qbr is None or s.last_qbr.day > a else a - s.last_qbr.day
    every = targets.qbr_every_days
    if every is None:
        qbr = Part("qbr", None, 0.2, "QBRs are not expected for this segment")
    elif qbr_days is not None and qbr_days <= every:
        qbr = Part("qbr", 100.0, 0.2, f"last QBR {days_ago(qbr_days)}", (s.last_qbr.event_id,) if s.last_qbr else ())
    elif ctx.days_known < every:
        qbr = Part("qbr", None, 0.2, "first QBR not due yet")
    else:
        qbr = Part("qbr", 0.0, 0.2, f"no QBR in the last {every} days")

    facts: dict[str, Fact] = {
        "interactions_30d": len(recent), "interactions_prior_30d": prior_count,
        "touches_expected": round(expected, 1), "days_since_two_way": since_two_way,
        "days_since_qbr": qbr_days,
    }
    return component("engagement", [touches, conversation, qbr], facts)


def _survey_part(kind: str, score: int | None, age: int | None, event_id: str, weight: float) -> Part:
    if score is None or age is None or age > SURVEY_RELEVANCE_DAYS:
        return Part(kind, None, weight, f"no {kind.upper()} answer in the last {SURVEY_RELEVANCE_DAYS} days")
    raw = NPS_POINTS[score] if kind == "nps" else CSAT_POINTS[score]
    value = 50 + (raw - 50) * 0.5 ** (age / SURVEY_HALF_LIFE_DAYS)
    if kind == "nps":
        band = "promoter" if score >= 9 else ("passive" if score >= 7 else "detractor")
        detail = f"latest NPS {score} ({band}), answered {days_ago(age)}"
    else:
        detail = f"latest CSAT {score} of 5, answered {days_ago(age)}"
    return Part(kind, round(value, 1), weight, detail, (event_id,))


def score_sentiment(s: AccountSignals, ctx: ScoringContext) -> ComponentScore:
    a = ctx.as_of_day
    nps = s.nps if s.nps is not None and s.nps.stamp.day <= a else None
    csat = s.csat if s.csat is not None and s.csat.stamp.day <= a else None
    nps_age = None if nps is None else a - nps.stamp.day
    csat_age = None if csat is None else a - csat.stamp.day
    negatives = [n for n in s.negative_feedback if a - 89 <= n.stamp.day <= a]
    if s.first_feedback_day is None or s.first_feedback_day > a:
        return missing_component("sentiment", "no survey answers or rated interactions yet")
    parts = [
        _survey_part("nps", nps.score if nps else None, nps_age, nps.stamp.event_id if nps else "", 0.4),
        _survey_part("csat", csat.score if csat else None, csat_age, csat.stamp.event_id if csat else "", 0.3),
        Part("negative_feedback", ramp(len(negatives), 0, 4), 0.3,
             f"{plural(len(negatives), 'negative feedback item')} in the last 90 days" if negatives
             else "no negative feedback in the last 90 days",
             tuple(n.stamp.event_id for n in negatives[-10:])),
    ]
    facts: dict[str, Fact] = {
        "nps": nps.score if nps else None, "nps_age_days": nps_age,
        "csat": csat.score if csat else None, "csat_age_days": csat_age,
        "negative_feedback_90d": len(negatives),
        "negative_feedback_30d": sum(1 for n in negatives if a - 29 <= n.stamp.day),
    }
    return component("sentiment", parts, facts)


def score_support(s: AccountSignals, ctx: ScoringContext) -> ComponentScore:
    a = ctx.as_of_day
    if s.first_ticket_day is None or s.first_ticket_day > a:
        return missing_component("support", "no support tickets recorded yet")
    open_now = sorted(
        (t for t in s.tickets.values() if t.opened is not None and t.opened.day <= a
         and (t.is_open or (t.closed is not None and t.closed.day > a))),
        key=lambda t: t.opened.key if t.opened else ("", ""))
    by_severity = {sev: [t for t in open_now if t.severity == sev] for sev in SEVERITY_LOAD}
    load = sum(SEVERITY_LOAD.get(t.severity or "normal", 2) for t in open_now)
    counted = ", ".join(f"{len(ts)} {sev}" for sev, ts in reversed(by_severity.items()) if ts)
    open_detail = f"{plural(len(open_now), 'open ticket')} ({counted})" if open_now else "no open tickets"
    open_evidence = tuple(t.opened.event_id for t in open_now if t.opened)[:10]
    load_part = Part("open_tickets", ramp(load, 2, 16), 0.4, open_detail, open_evidence)

    urgent = by_severity["urgent"]
    oldest = max((a - t.opened.day for t in urgent if t.opened), default=None)
    if oldest is None:
        urgent_part = Part("urgent", 100.0, 0.35, "no urgent tickets open")
    else:
        detail = (f"1 urgent ticket open for {plural(oldest, 'day')}" if len(urgent) == 1
                  else f"{len(urgent)} urgent tickets open, oldest for {plural(oldest, 'day')}")
        urgent_part = Part("urgent", round(60 * max(0.0, 1 - oldest / 10), 1), 0.35, detail,
                           tuple(t.opened.event_id for t in urgent if t.opened))

    opened_recent = sorted((t for t in s.tickets.values() if t.opened and a - 29 <= t.opened.day <= a),
                           key=lambda t: t.opened.key if t.opened else ("", ""))  # stored state may reorder them
    opened_prior = sum(1 for t in s.tickets.values() if t.opened and a - 59 <= t.opened.day <= a - 30)
    volume = Part("volume", ramp(len(opened_recent) / max(opened_prior, 2), 1, 3), 0.25,
                  f"{plural(len(opened_recent), 'ticket')} opened in the last 30 days against "
                  f"{opened_prior} in the 30 days before",
                  tuple(t.opened.event_id for t in opened_recent if t.opened)[:10])
    facts: dict[str, Fact] = {
        "open_tickets": len(open_now), "open_urgent": len(urgent), "open_high": len(by_severity["high"]),
        "oldest_urgent_open_days": oldest, "severity_load": load,
        "tickets_opened_30d": len(opened_recent), "tickets_opened_prior_30d": opened_prior,
    }
    return component("support", [load_part, urgent_part, volume], facts)


def score_relationship(s: AccountSignals, ctx: ScoringContext) -> ComponentScore:
    a, targets = ctx.as_of_day, ctx.targets
    linked = [i for i in s.interactions if i.contact_id]
    if not s.contacts and not linked:
        return missing_component("relationship", "no contacts recorded yet")
    gone: set[str] = set()
    active_contacts = 0
    for c in s.contacts.values():  # a loop, not two comprehensions: this runs at every point
        if c.active:
            active_contacts += 1
        else:
            gone.add(c.contact_id)
    open_departures = unreplaced_departures(s, a)
    days_unreplaced: dict[str, int | None] = {"champion": None, "exec_sponsor": None}
    sentences = []
    for d in open_departures:
        days_unreplaced[d.role] = max(days_unreplaced[d.role] or 0, a - d.stamp.day)
        sentences.append(f"{contact_label(d)} left {days_ago(a - d.stamp.day)} and no replacement has joined")
    penalty = 60 * (days_unreplaced["champion"] is not None) + 40 * (days_unreplaced["exec_sponsor"] is not None)
    key_part = Part("key_contacts", 100.0 - penalty, 0.6,
                    "; ".join(sentences) or "no champion or executive sponsor left without a replacement",
                    tuple(d.stamp.event_id for d in open_departures))

    recent = [i for i in linked if a - 59 <= i.day <= a and i.contact_id not in gone]
    engaged = sorted({i.contact_id for i in recent if i.contact_id})
    target = max(1.0, targets.engaged_contacts * min(60, ctx.days_known) / 60)
    engaged_part = Part("engaged_contacts", round(min(1.0, len(engaged) / target) * 100, 1), 0.4,
                        f"{plural(len(engaged), 'contact')} engaged in the last 60 days (target {target:.0f})",
                        tuple(i.event_id for i in recent[-5:]))
    facts: dict[str, Fact] = {
        "champion_unreplaced_days": days_unreplaced["champion"],
        "exec_sponsor_unreplaced_days": days_unreplaced["exec_sponsor"],
        "unreplaced_departures": len(open_departures), "engaged_contacts": len(engaged),
        "active_contacts": active_contacts,
    }
    return component("relationship", [key_part, engaged_part], facts)
