"""When each churn-risk alert kind holds, how bad it is, and when it has cleared.

Severity: grade_red is high; score_drop low while the account is still green, else medium, and
high past threshold + step; usage_decline medium, high past threshold + step;
champion_left high for a champion, medium for a sponsor alone; negative_feedback medium, high at
twice the run count. Any of them goes one level up (to critical at most) when the account renews
within `renewal_critical_days`: a risk near renewal is the one that costs revenue first.

Conditions clear with a margin (a score drop clears when half of it is recovered, a usage decline
when active users are back within half the threshold), so that alerts do not flap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.health.domain.alert_decisions import SEVERITIES, OpenAlert
from services.health.domain.calibration import Calibration
from services.health.domain.contracts import ContractSummary
from services.health.domain.explain import explain_change, part_reason, top_reasons
from services.health.domain.measures import plural, unreplaced_departures
from services.health.domain.scorecard import AlertRules
from services.health.domain.scoring import HealthScore
from services.health.domain.signals import AccountSignals
from shared.days import day_number, start_of_day
from shared.events import AlertSeverity
from shared.reasons import Reason


@dataclass(frozen=True, slots=True)
class Condition:
    severity: AlertSeverity
    magnitude: float
    baseline: float | None
    episode_start: datetime
    explained: tuple[Reason, ...] | Callable[[], tuple[Reason, ...]]
    """The reasons, or how to find them when they are needed: most conditions that hold are not
    reported at a point (the alert is open already, or held back), and grade_red's reasons (the
    score's main drivers) cost as much as an explanation."""
    step: float | None = None

    @property
    def reasons(self) -> tuple[Reason, ...]:
        explained = self.explained
        return explained if isinstance(explained, tuple) else explained()


@dataclass(frozen=True, slots=True)
class AlertContext:
    previous: HealthScore | None
    current: HealthScore
    history: Sequence[tuple[datetime, float]]
    signals: AccountSignals
    rules: AlertRules
    as_of: datetime
    contract: ContractSummary
    last_resolved: Mapping[str, datetime] = field(default_factory=dict)
    change: Sequence[Reason] | None = None
    """`explain_change(previous, current)` when the caller has it already (None: derive it)."""
    calibration: Calibration | None = None

    @property
    def detected_on(self) -> datetime:
        return start_of_day(day_number(self.as_of))

    def severity(self, base: AlertSeverity) -> AlertSeverity:
        days = self.contract.days_to_renewal(self.as_of.date())
        near = days is not None and 0 <= days <= self.rules.renewal_critical_days
        return SEVERITIES[min(len(SEVERITIES) - 1, SEVERITIES.index(base) + near)]


def _grade_red(ctx: AlertContext, open_alert: OpenAlert | None) -> Condition | None:
    if ctx.current.grade != "red":
        return None
    current = ctx.current
    return Condition(ctx.severity("high"), current.total, None, ctx.detected_on,
                     lambda: tuple(top_reasons(current, 3)))


def _score_drop(ctx: AlertContext, open_alert: OpenAlert | None) -> Condition | None:
    r, total = ctx.rules, ctx.current.total
    if open_alert is not None and open_alert.baseline is not None:
        peak = open_alert.baseline
    else:
        since = ctx.as_of - timedelta(days=r.score_drop_days)
        peak = max((v for t, v in ctx.history if since <= t < ctx.as_of), default=total)
    drop = round(peak - total, 1)
    if drop < r.score_drop_points:
        return None
    headline = Reason("overall", -drop, f"score fell {drop:g} points from {peak:g} to {total:g} "
                                        f"within {r.score_drop_days} days")
    base: AlertSeverity = "high" if drop >= r.score_drop_points + r.score_drop_step else (
        "low" if ctx.current.grade == "green" else "medium")  # still green after the drop: watch it
    return Condition(ctx.severity(base), drop, peak, ctx.detected_on,
                      (headline, *_change(ctx)[:3]), r.score_drop_step)


def _change(ctx: AlertContext) -> Sequence[Reason]:
    return ctx.change if ctx.change is not None else explain_change(ctx.previous, ctx.current)


HELD_SINCE_EPISODE = frozenset({"champion_left"})
"""Kinds whose condition is known to have held since its episode started (a departure nobody has
replaced since), even when the event saying so arrived late: the sustain is counted from then."""


def _champion_left(ctx: AlertContext, open_alert: OpenAlert | None) -> Condition | None:
    departed = unreplaced_departures(ctx.signals, day_number(ctx.as_of))
    if not departed:
        return None
    base: AlertSeverity = "high" if any(d.role == "champion" for d in departed) else "medium"
    reason = part_reason(ctx.current, "relationship", "key_contacts")
    # The episode starts at its first departure since the last resolve (when a replacement leaves
    # too, the old departure is unreplaced again, but it belongs to the episode that resolved).
    resolved = ctx.last_resolved.get("champion_left")
    fresh = [d.stamp.at for d in departed if resolved is None or d.stamp.at > resolved]
    episode_start = min(fresh) if fresh else max(d.stamp.at for d in departed)
    return Condition(ctx.severity(base), float(len(departed)), None, episode_start,
                      (reason,) if reason else (), 1.0)


def _usage_decline(ctx: AlertContext, open_alert: OpenAlert | None) -> Condition | None:
    """Active users down against the 30 days before (with user ids), else usage volume per feature (by
    more: volume is noisier), and only while usage is no longer healthy (on the books tried, declines
    from a high level to a normal one were followed by churn no more often than chance)."""
    usage = ctx.current.components.get("usage")
    facts = usage.facts if usage is not None else {}
    recent, prior = facts.get("daily_active_users_recent"), facts.get("daily_active_users_prior")
    if not isinstance(recent, int | float) or not isinstance(prior, int | float) \
            or facts.get("active_users_decline_pct") is None:
        volume = facts.get("usage_decline_pct")
        if not isinstance(volume, int | float):
            return None
        baseline, decline = 0.0, float(volume)  # no baseline: recovery is the condition clearing
    elif open_alert is not None and open_alert.baseline:
        baseline = open_alert.baseline
        decline = round(100 * (baseline - recent) / baseline, 1)
    else:
        measured = facts.get("active_users_decline_pct")
        if not isinstance(measured, int | float):
            return None
        baseline, decline = float(prior), float(measured)
    threshold = ctx.rules.usage_decline_pct if baseline else ctx.rules.usage_decline_volume_pct
    if decline < threshold:
        return None
    if usage is None or usage.score is None or usage.score >= ctx.rules.usage_decline_max_usage_score:
        return None  # usage fell from a high level to a healthy one: news, not a churn risk
    base: AlertSeverity = "high" if decline >= threshold + ctx.rules.usage_decline_step else "medium"
    reasons = tuple(r for p in ("trend", "utilisation") if (r := part_reason(ctx.current, "usage", p)))
    return Condition(ctx.severity(base), decline, baseline, ctx.detected_on, reasons,
                      ctx.rules.usage_decline_step)


def _negative_feedback(ctx: AlertContext, open_alert: OpenAlert | None) -> Condition | None:
    r = ctx.rules
    if not ctx.signals.negative_feedback and r.negative_feedback_count > 0:
        return None
    since = ctx.as_of - timedelta(days=r.negative_feedback_days)
    run = [n for n in ctx.signals.negative_feedback if since < n.stamp.at <= ctx.as_of]
    if open_alert is not None:
        run = [n for n in ctx.signals.negative_feedback if open_alert.episode_start <= n.stamp.at <= ctx.as_of]
    if len(run) < r.negative_feedback_count:
        return None
    names = {"nps": "NPS {:g}", "csat": "CSAT {:g}", "interaction": "an interaction rated {:g}"}
    items = ", ".join(names[n.source].format(n.value) for n in run[-5:])
    reason = Reason("sentiment", 0.0, f"{plural(len(run), 'negative feedback item')} since "
                                      f"{run[0].stamp.at.date().isoformat()}: {items}",
                    tuple(n.stamp.event_id for n in run[-10:]))
    base: AlertSeverity = "high" if len(run) >= 2 * r.negative_feedback_count else "medium"
    return Condition(ctx.severity(base), float(len(run)), None, run[0].stamp.at, (reason,),
                      float(r.negative_feedback_count))


def recovered(kind: str, ctx: AlertContext, open_alert: OpenAlert, condition: Condition | None) -> bool:
    """Whether an open alert's condition has cleared, with a margin for the measured kinds."""
    if kind == "score_drop" and open_alert.baseline is not None:
        return ctx.current.total >= open_alert.baseline - ctx.rules.score_drop_points / 2
    if kind == "usage_decline" and open_alert.baseline:
        usage = ctx.current.components.get("usage")
        recent = usage.facts.get("daily_active_users_recent") if usage else None
        threshold = open_alert.baseline * (1 - ctx.rules.usage_decline_pct / 200)
        return isinstance(recent, int | float) and recent >= threshold
    if kind == "negative_feedback":
        since = ctx.as_of - timedelta(days=ctx.rules.negative_feedback_days)
        return not any(since < n.stamp.at <= ctx.as_of for n in ctx.signals.negative_feedback)
    return condition is None


DETECTORS: Mapping[str, Callable[[AlertContext, OpenAlert | None], Condition | None]] = {
    "grade_red": _grade_red,
    "score_drop": _score_drop,
    "champion_left": _champion_left,
    "usage_decline": _usage_decline,
    "negative_feedback": _negative_feedback,
}


def worsened(open_alert: OpenAlert, condition: Condition) -> bool:
    if SEVERITIES.index(condition.severity) > SEVERITIES.index(open_alert.severity):
        return True
    return condition.step is not None and condition.magnitude >= open_alert.magnitude + condition.step


CLEARED_COMPONENT = {"grade_red": "overall", "score_drop": "overall", "champion_left": "relationship",
              "usage_decline": "usage", "negative_feedback": "sentiment"}


def cleared_detail(kind: str, ctx: AlertContext, open_alert: OpenAlert) -> str:
    current, baseline = ctx.current, open_alert.baseline
    if kind == "grade_red":
        return f"grade back to {current.grade} at {current.total:g}"
    if kind == "score_drop":
        return f"score recovered to {current.total:g} (it was {baseline or 0:g} before the drop)"
    if kind == "usage_decline":
        usage = current.components.get("usage")
        recent = usage.facts.get("daily_active_users_recent") if usage else None
        if not baseline:
            return "usage back within the decline threshold of the 30 days before"
        return f"users active on an average day back to {recent} (they were {baseline:g} before the decline)"
    if kind == "negative_feedback":
        return f"no negative feedback in the last {ctx.rules.negative_feedback_days} days"
    return "every champion and executive sponsor who left has been replaced"
