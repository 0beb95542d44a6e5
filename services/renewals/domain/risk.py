"""Renewal risk of one renewal at one point in time: a pure function of the account's health records
(consumed from `orchard.account-health.v1`) and of the renewal, each factor with its reason in words.

    health      grade green: low; yellow: medium; red: high, critical when the score is below 25;
                no health score yet: medium (unknown is not safe, but raises no alert)
    trend       score 15+ points lower than 30 days before: one band higher; 15+ higher: one lower
    auto-renew  the contract renews unless the customer cancels: one band lower, but red health stays
                at least high (a customer that unhappy gives notice)
    closing     30 days or fewer left at high risk or worse: critical (little time to turn it round)
    overdue     the date has passed with no renewal recorded and no auto-renew: one band higher
    weak parts  a part of health below 30 behind a green or yellow grade: usage (seat use and activity),
                relationship (champion and sponsor: a departure without a successor empties it) or
                support (urgent and open tickets): one band higher, never above high (a grade can
                average a collapsing part away; the renewal should not)

A reason's `delta` is the number of bands its factor moves the renewal, negative towards churn (as
health's negative deltas are); the health grade's reason, the starting point, has 0.

Seat utilisation, champion or sponsor loss and urgent tickets reach renewals through health's
components (`health.changed` carries them): renewals consumes neither the usage nor the interaction
topic, and health already judges them (seat use in usage, contacts in relationship, tickets in
support), so they are read from there rather than judged twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from shared.health_reading import HealthReading
from shared.periods import midnight, utc_day
from shared.reasons import Reason

RiskBand = Literal["low", "medium", "high", "critical"]
RISK_BANDS: tuple[RiskBand, ...] = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class RiskRules:
    critical_score_below: float = 25.0
    weak_part_below: float = 30.0
    trend_days: int = 30
    trend_points: float = 15.0
    closing_days: int = 30


RULES = RiskRules()


WEAK_PARTS = {"usage": "seat use and activity", "relationship": "champion and sponsor",
              "support": "urgent and open tickets"}


@dataclass(frozen=True)
class Risk:
    band: RiskBand
    reasons: tuple[Reason, ...]


def _moved(band: RiskBand, steps: int) -> RiskBand:
    return RISK_BANDS[max(0, min(len(RISK_BANDS) - 1, RISK_BANDS.index(band) + steps))]


def assess_risk(
    trail: Sequence[HealthReading], *, at: datetime, renewal_date: date, auto_renew: bool, pending: bool = True,
    rules: RiskRules = RULES,
) -> Risk:
    """The renewal's risk at `at`, from the health records known then (`trail`, oldest first). The
    calendar factors (closing, overdue) judge a pending renewal only."""
    health = health_at(trail, at)
    if health is None:
        band: RiskBand = "medium"
        reasons = [Reason("health", 0.0, "no health score received for this account yet")]
    else:
        band = "low" if health.grade == "green" else "medium" if health.grade == "yellow" else "high"
        if health.grade == "red" and health.score < rules.critical_score_below:
            band = "critical"
        reasons = [Reason("health", 0.0, f"health is {health.grade} at {health.score:g}", (health.event_id,))]
        if trend := _trend(trail, health, at=at, rules=rules):
            steps = 1 if trend.delta < 0 else -1
            band = _moved(band, steps)
            reasons.append(trend)

    def factor(component: str, moved_to: RiskBand, detail: str) -> None:
        nonlocal band
        steps = RISK_BANDS.index(moved_to) - RISK_BANDS.index(band)
        if steps:
            reasons.append(Reason(component, float(-steps), detail))
            band = moved_to

    if health is not None and band in ("low", "medium"):
        weak = [(name, value) for name, value in health.components
                if name in WEAK_PARTS and value < rules.weak_part_below]
        if weak:
            band = _moved(band, 1)
            parts = ", ".join(f"{name} {value:g}/100 ({WEAK_PARTS[name]})" for name, value in weak)
            reasons.append(Reason("weak_parts", -1.0, f"weak behind the {health.grade} grade: {parts}",
                                      (health.event_id,)))

    if auto_renew:
        floor: RiskBand = "high" if health is not None and health.grade == "red" else "low"
        factor("auto_renew", max(_moved(band, -1), floor, key=RISK_BANDS.index),
               "auto-renews: it renews unless the customer cancels")
    days = (renewal_date - utc_day(at)).days
    if pending and 0 <= days <= rules.closing_days and RISK_BANDS.index(band) >= RISK_BANDS.index("high"):
        factor("days_to_renewal", "critical", f"{days} days to renewal: little time left to turn it round")
    if pending and days < 0 and not auto_renew:
        factor("days_to_renewal", _moved(band, 1),
               f"the renewal date passed {-days} days ago and no renewal has been recorded")
    return Risk(band, tuple(reasons))


def _trend(
    trail: Sequence[HealthReading], health: HealthReading, *, at: datetime, rules: RiskRules
) -> Reason | None:
    then = health_at(trail, at - timedelta(days=rules.trend_days))
    before = then.score if then is not None else (trail[0].previous_score if trail else None)
    if before is None or abs(health.score - before) < rules.trend_points:
        return None
    change = health.score - before
    word = "fell" if change < 0 else "rose"
    return Reason("health_trend", -1.0 if change < 0 else 1.0,
                      f"health {word} {abs(change):g} points in {rules.trend_days} days "
                      f"(from {before:g} to {health.score:g})", (health.event_id,))


def health_at(trail: Sequence[HealthReading], at: datetime) -> HealthReading | None:
    """The record in force at `at`: the latest at or before it."""
    found = None
    for record in trail:
        if record.at <= at:
            found = record
    return found


def add_health(
    trail: Sequence[HealthReading], record: HealthReading, *, rules: RiskRules = RULES
) -> tuple[HealthReading, ...]:
    """The trail with `record` in its place (event time, then id; a repeat is kept once), trimmed to
    what a trend judged from now on can need: the records of the last `trend_days` before the latest
    and the one in force when they began."""
    kept = {r.event_id: r for r in trail}
    kept[record.event_id] = record
    ordered = sorted(kept.values(), key=lambda r: r.position)
    cut = ordered[-1].at - timedelta(days=rules.trend_days)
    older = [r for r in ordered if r.at < cut]
    return tuple(older[-1:] + [r for r in ordered if r.at >= cut])


def trend_change_days(trail: Sequence[HealthReading], *, rules: RiskRules = RULES) -> set[date]:
    """The days from whose midnight on a trend judged at that midnight sees another reference record
    (a record becomes the reference once it is `trend_days` old)."""
    days = set()
    for record in trail:
        due = record.at + timedelta(days=rules.trend_days)
        days.add(utc_day(due) if midnight(utc_day(due)) == due else utc_day(due) + timedelta(days=1))
    return days
