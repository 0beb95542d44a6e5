"""The usage component: how much the account uses the product, against accounts like it and against
its own past, robust to the telemetry it happens to send.

What real telemetry looks like decides the design (DOMAIN.md, issue 8):

* Features have different units (API calls, bytes, seats, deal values): every measure is per feature
  and then read as a percentile or a ratio, so no unit ever mixes with another.
* Telemetry without user ids (daily counts, server-side events) has no "active users": the
  utilisation part is missing, never zero. Active days and volume work for every kind.
* Windows are complete UTC days (the 30 days before `as_of`'s day): the score moves at midnight and on
  the first usage of a day, not with every event's quantity, so it reflects behaviour, not noise.
* A steadily quiet account is not healthy: its level is compared with its cohort (norms), per feature,
  over the 30 days as they are (a young account that is slow to start is behind). An account in its
  first 30 days is compared with what established accounts did in their own first 30 days.
* An account with a contract that never sends usage while its cohort does is not "missing data": it
  does not use the product.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from services.health.domain.contracts import contract_summary
from services.health.domain.measures import (
    ComponentScore,
    Fact,
    Part,
    ScoringContext,
    component,
    days_ago,
    missing_component,
    pct,
    plural,
    ramp,
    window_users,
)
from services.health.domain.norms import CohortNorms, Norm
from services.health.domain.signals import ONBOARDING_DAYS, AccountSignals, onboarding_usage

WINDOW_DAYS = 30
MIN_PRIOR_USERS_FOR_DECLINE = 5
"""Below this many active users a percentage decline is noise (2 -> 1 is not a "50% collapse")."""
ESTABLISHED_DAYS = 2 * WINDOW_DAYS
"""From this age on both windows are known: the account's measures feed its cohort's norms."""
EXPECT_USAGE_AFTER_DAYS = 14
"""An account whose cohort uses the product and that has sent no usage this long after it was first
seen is scored as not using it (rather than as missing data)."""
RATIO_FLOOR, RATIO_CAP = 0.05, 3.0
"""Per-feature change is bounded, so one feature going from 1 to 0 or 1 to 50 cannot decide alone."""


@dataclass(frozen=True, slots=True)
class UsageWeights:
    level: float
    trend: float
    utilisation: float
    breadth: float
    recency: float


WITH_NORMS = UsageWeights(level=0.55, trend=0.15, utilisation=0.1, breadth=0.05, recency=0.15)
"""Set on the backtest (docs/signal-quality.md): the level against the cohort ranks churn best on every
data set tried; the change against the account's own past adds to it on behaviour-driven data and is
noise where behaviour is stable, so it weighs less."""
WITHOUT_NORMS = UsageWeights(level=0.1, trend=0.4, utilisation=0.25, breadth=0.05, recency=0.2)
"""Before there are cohort norms to compare with (a new installation, a cohort too small), the level
can only be the share of days active, a weak signal: the account's change against its own past and
its seat use carry the judgement."""


@dataclass(frozen=True, slots=True)
class UsageMeasures:
    """An account's usage over complete days: the recent window and the one before it."""

    days_counted: int
    """Complete days in the recent window (30, fewer for an account younger than that)."""
    active_days: int
    prior_active_days: int | None
    """None while the prior window is not fully known (a young account)."""
    events: int
    qty: Mapping[str, float]
    prior_qty: Mapping[str, float]
    users: int | None
    """Distinct users in the recent window; None when the telemetry carries no user ids."""
    prior_users: int | None
    daily_users: float | None
    """Users active on an average day of the recent window: unlike distinct users, it sees a collapse
    that happened inside the window (40 users a day, then 3, is still 40 distinct users)."""
    prior_daily_users: float | None
    age_days: int

    @property
    def established(self) -> bool:
        return self.age_days >= ESTABLISHED_DAYS


def usage_measures(s: AccountSignals, as_of_day: int) -> UsageMeasures:
    """The account's usage measures on the complete days before `as_of_day`."""
    a = as_of_day
    first_seen = s.first_seen_day if s.first_seen_day is not None else a
    age = max(0, a - first_seen)
    recent_first, last = max(a - WINDOW_DAYS, first_seen), a - 1
    prior_known = a - 2 * WINDOW_DAYS >= first_seen
    prior_first, prior_last = a - 2 * WINDOW_DAYS, a - WINDOW_DAYS - 1
    # One pass per measure over both windows (they do not overlap): this runs at every point.
    active = prior_active = events = 0
    for d, n in s.event_days.items():
        if recent_first <= d <= last:
            events += n
            if n:
                active += 1
        elif prior_known and prior_first <= d <= prior_last and n:
            prior_active += 1
    qty: dict[str, float] = {}
    prior_qty: dict[str, float] = {}
    # Sorted and summed exactly: stored state comes back from JSONB in another key order, and the
    # result must not depend on whether a batch boundary fell in between.
    for feature, days in sorted(s.feature_days.items()):
        recent_q: list[float] = []
        prior_q: list[float] = []
        for d, q in days.items():
            if recent_first <= d <= last:
                recent_q.append(q)
            elif prior_known and prior_first <= d <= prior_last:
                prior_q.append(q)
        if recent_q and (total := math.fsum(recent_q)):
            qty[feature] = total
        if prior_q and (total := math.fsum(prior_q)):
            prior_qty[feature] = total
    users = prior_users = user_day_count = prior_user_days = None
    if s.user_activity:
        users, user_day_count = window_users(s, recent_first, last)
        if prior_known:
            prior_users, prior_user_days = window_users(s, prior_first, prior_last)
    return UsageMeasures(
        days_counted=max(0, a - recent_first),
        active_days=active,
        prior_active_days=prior_active if prior_known else None,
        events=events,
        qty=qty,
        prior_qty=prior_qty,
        users=users,
        prior_users=prior_users,
        daily_users=None if user_day_count is None else user_day_count / max(1, a - recent_first),
        prior_daily_users=None if prior_user_days is None else prior_user_days / WINDOW_DAYS,
        age_days=age,
    )


def norm_sample(s: AccountSignals, as_of_day: int) -> dict[str, float]:
    """What this account contributes to its cohort's norms: its 30-day measures while it is a
    customer (usage in the window, or a contract in force), and the first-30-days usage of accounts
    that stayed (established and still active), for young accounts to be compared with."""
    m = usage_measures(s, as_of_day)
    in_force = contract_summary(s, date.fromordinal(as_of_day)).seats is not None
    if m.days_counted == 0 or not (m.active_days or in_force):
        return {}
    sample: dict[str, float] = {"active_days_30": float(m.active_days)}
    sample.update({f"qty_30:{f}": q for f, q in m.qty.items()})
    onboarding = onboarding_usage(s)
    if onboarding is not None and m.established and m.active_days > 0:
        sample["onboarded"] = 1.0
        sample.update({f"onboarding_30:{f}": q for f, q in onboarding.items()})
    return sample


def level_score(share: float) -> float:
    """0-100 from the cohort percentile: concave, so the typical account (50th) reads 75 and the
    bottom tenth under 20, without flattening the ranking anywhere."""
    return round(100 * (1 - (1 - share) ** 2), 1)


def _level(s: AccountSignals, m: UsageMeasures, norms: CohortNorms,
           cohort: str | None) -> tuple[Part, float] | None:
    """The account's usage level as a percentile (0-1) of its cohort, or None without norms to compare."""
    if not norms.cohorts:
        return None
    features = norms.features(cohort)
    if m.age_days < WINDOW_DAYS:  # young: against what established accounts did in their first days
        scale = WINDOW_DAYS / max(1, m.days_counted)
        onboarding = norms.features(cohort, "onboarding_30:")
        placed = [(f, n.percentile(m.qty.get(f, 0.0) * scale)) for f in onboarding
                  if (n := norms.norm(cohort, f"onboarding_30:{f}")) is not None
                  and expected_by_now(n, m.days_counted) >= 1]
        # Pro-rating a feature the typical account uses twice a month puts an account three days old that
        # has not used it yet at the bottom: noise, which made most new accounts red in their first week.
        # Such a feature is judged once the typical account would have used it; on the first day or two,
        # when none would, every feature is (as before).
        placed = placed or [(f, n.percentile(m.qty.get(f, 0.0) * scale)) for f in onboarding
                            if (n := norms.norm(cohort, f"onboarding_30:{f}")) is not None]
        if placed:
            level = sum(p for _, p in placed) / len(placed)
            detail = (f"in its first {plural(m.days_counted, 'day')}, usage at the {_ordinal(level)} percentile of "
                      f"what established accounts used in their first {ONBOARDING_DAYS} days "
                      f"({_listed(placed, m.qty)})")
            return Part("level", level_score(level), WITH_NORMS.level, detail,
                        _evidence(s, [f for f, _ in placed])), level
    # The 30 days as they are, not pro-rated: an account that took weeks to start using the product is
    # behind, and the books tried say such accounts churn most.
    placed = [(f, n.percentile(m.qty.get(f, 0.0))) for f in features
              if (n := norms.norm(cohort, f"qty_30:{f}")) is not None]
    if not placed:
        return None
    level = sum(p for _, p in placed) / len(placed)
    detail = (f"usage at the {_ordinal(level)} percentile of similar accounts over the last "
              f"{plural(m.days_counted, 'day')}: {_listed(placed, m.qty)}")
    return Part("level", level_score(level), WITH_NORMS.level, detail, _evidence(s, [f for f, _ in placed])), level


def expected_by_now(norm: Norm, days: int) -> float:
    """How often the typical account that stayed had used a feature after `days` of its first 30 (the
    median of its first-30-days norm, pro-rated)."""
    return norm.quantiles[len(norm.quantiles) // 2] * max(1, days) / ONBOARDING_DAYS


def _listed(placed: list[tuple[str, float]], qty: Mapping[str, float]) -> str:
    shown = sorted(placed, key=lambda fp: fp[1])[:3]
    return ", ".join(f"{f} {qty.get(f, 0.0):g} ({_ordinal(p)} pct.)" for f, p in shown)


def _ordinal(share: float) -> str:
    n = round(100 * share)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _evidence(s: AccountSignals, features: list[str]) -> tuple[str, ...]:
    ids = [s.feature_last_used[f].event_id for f in features if f in s.feature_last_used][:3]
    return tuple(ids) + tuple(st.event_id for st in s.usage_evidence[-2:])


def volume_change(m: UsageMeasures) -> float | None:
    """Recent over prior usage as one ratio: the geometric mean of each feature's ratio and the
    active-days ratio (each bounded), so every feature counts once whatever its unit."""
    if m.prior_active_days is None or not m.prior_qty:
        return None
    ratios = []
    for feature in set(m.qty) | set(m.prior_qty):
        before, now = m.prior_qty.get(feature, 0.0), m.qty.get(feature, 0.0)
        ratios.append(RATIO_CAP if before <= 0 else min(RATIO_CAP, max(RATIO_FLOOR, now / before)))
    if m.prior_active_days:
        ratios.append(min(RATIO_CAP, max(RATIO_FLOOR, m.active_days / m.prior_active_days)))
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios))


def utilisation_target(tenure_days: int) -> float | None:
    """Active share of seats expected by time since purchase, after GitLab's published Gainsight
    bands (2-6 months, 6-9, over 9): not judged in the first 60 days (onboarding), then 50%,
    65% after 6 months and 80% after 9."""
    if tenure_days < 60:
        return None
    if tenure_days < 180:
        return 0.5
    return 0.65 if tenure_days < 270 else 0.8


def score_usage(s: AccountSignals, ctx: ScoringContext) -> ComponentScore:
    a, seats, norms, cohort = ctx.as_of_day, ctx.contract.seats, ctx.norms, ctx.contract.segment
    m = usage_measures(s, a)
    if s.first_usage_day is None or s.first_usage_day > a or s.last_usage is None:
        expected = norms.norm(cohort, "active_days_30")
        if expected is None or expected.quantiles[len(expected.quantiles) // 2] <= 0 \
                or m.age_days < EXPECT_USAGE_AFTER_DAYS:
            return missing_component("usage", "no product usage recorded yet", {"seats": seats})
        silent = Part("recency", 0.0, WITH_NORMS.recency,
                      f"no product usage in the {m.age_days} days since the account was first seen, while "
                      f"most similar accounts use the product every month")
        level = Part("level", 0.0, WITH_NORMS.level, "no product usage at all")
        return component("usage", [level, silent], {"days_since_last_usage": m.age_days, "seats": seats,
                                                    "usage_level_pct": 0, "active_days_30": 0})

    placed = _level(s, m, norms, cohort)
    level_pct: float | None = None
    w = WITH_NORMS
    if placed is not None:
        level, share = placed
        level_pct = round(100 * share, 1)
    else:  # nothing to compare with: the share of days the account was active
        w = WITHOUT_NORMS
        share = m.active_days / max(1, m.days_counted)
        level = Part("level", ramp(share, 0.6, 0.1), w.level,
                     f"active on {m.active_days} of the last {plural(m.days_counted, 'day')}",
                     _evidence(s, []))

    change = volume_change(m)
    users_decline: float | None = None
    daily_ratio: float | None = None
    if m.daily_users is not None and m.prior_daily_users:
        daily_ratio = m.daily_users / m.prior_daily_users
        if (m.prior_users or 0) >= MIN_PRIOR_USERS_FOR_DECLINE:
            users_decline = round(100 * (1 - daily_ratio), 1)
    of_seats = f" of {seats} seats" if seats else ""
    if daily_ratio is not None and m.daily_users is not None and m.prior_daily_users is not None:
        moved = "fell" if daily_ratio < 1 else "rose"
        trend_detail = (f"users active on an average day {moved} from {m.prior_daily_users:.1f} to "
                        f"{m.daily_users:.1f}{of_seats} against the 30 days before"
                        if abs(daily_ratio - 1) >= 0.05 else f"users active on an average day steady at "
                                                             f"{m.daily_users:.1f}{of_seats}")
    elif change is not None:
        trend_detail = (f"usage {'fell' if change < 1 else 'rose'} to {pct(change, 1)}% of the 30 days before "
                        f"(per feature, active on {m.active_days} days against {m.prior_active_days})"
                        if abs(change - 1) >= 0.05 else "usage steady against the 30 days before")
    else:
        trend_detail = "no 30 days before the last 30 to compare with yet"
    trend_value = change
    if daily_ratio is not None:
        trend_value = daily_ratio if change is None else math.sqrt(daily_ratio * change)
    trend = Part("trend", None if trend_value is None else ramp(trend_value, 1.0, 0.4), w.trend,
                 trend_detail, _evidence(s, sorted(m.qty)[:2]))

    target = utilisation_target(ctx.tenure_days)
    if m.users is None:
        utilisation = Part("utilisation", None, w.utilisation, "usage carries no user ids: seat use unknown")
    elif not seats:
        utilisation = Part("utilisation", None, w.utilisation,
                           "no contract in force, so seat utilisation is unknown")
    else:
        judged = "not judged in the first 60 days" if target is None else f"target {pct(target, 1)}%"
        used_share = None if target is None else round(min(1.0, m.users / seats / target) * 100, 1)
        utilisation = Part("utilisation", used_share, w.utilisation,
                           f"{m.users}{of_seats} active in the last 30 days ({pct(m.users, seats)}%, {judged})",
                           _evidence(s, []))

    known = [f for f, st in s.feature_last_used.items() if a - 119 <= st.day <= a]
    used = sorted(m.qty)
    breadth = Part("breadth", round(100 * min(1.0, len(used) / len(known)), 1) if known else None, w.breadth,
                   f"{len(used)} of {plural(len(known), 'feature')} used in the last 120 days were used in the "
                   f"last 30", _evidence(s, used[:3]))

    silent_days = max(0, a - s.last_usage.day)
    # Silence is judged against the account's own rhythm: ten quiet days are alarming for an account
    # active every day, and ordinary for one active twice a month.
    usual = m.prior_active_days if m.prior_active_days else m.active_days
    gap = WINDOW_DAYS / usual if usual else WINDOW_DAYS
    bad = min(45.0, max(7.0, 8 * gap))
    recency = Part("recency", ramp(silent_days, min(bad - 1, 2 * gap), bad), w.recency,
                   f"last product usage {days_ago(silent_days)}", (s.last_usage.event_id,))

    facts: dict[str, Fact] = {
        "active_days_30": m.active_days, "active_days_prior_30": m.prior_active_days, "usage_events_30": m.events,
        "active_users_recent": m.users, "active_users_prior": m.prior_users, "seats": seats,
        "daily_active_users_recent": None if m.daily_users is None else round(m.daily_users, 1),
        "daily_active_users_prior": None if m.prior_daily_users is None else round(m.prior_daily_users, 1),
        "utilisation_pct": pct(m.users, seats) if seats and m.users is not None else None,
        "utilisation_target_pct": None if target is None else pct(target, 1),
        "tenure_days": ctx.tenure_days, "customer_days": ctx.tenure_days if ctx.contract.first_start else None,
        "active_users_decline_pct": users_decline,
        "usage_decline_pct": None if change is None else round(100 * (1 - change), 1),
        "usage_level_pct": level_pct,
        "features_recent": len(used), "features_known": len(known), "days_since_last_usage": silent_days,
    }
    return component("usage", [level, trend, utilisation, breadth, recency], facts)

