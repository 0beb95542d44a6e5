"""Churn-risk alert rules: which alerts to raise, escalate or resolve after a (re)score.

Alert fatigue is fought three ways (as Vitally, ChurnZero and Gainsight do):
* one open alert per account and kind: while it is open, the same condition does not raise again;
  it is re-raised (same alert id, new event id) only when it WORSENS: a higher severity, or a
  further move of at least the configured step;
* a resolved kind stays quiet for `cooldown_days`, so a condition flickering at its threshold does
  not alert every other day;
* conditions clear with a margin (a score drop clears when half of it is recovered, a usage decline
  when active users are back within half the threshold), again so that alerts do not flap.

Ids are deterministic: alert id = uuid5(ALERT_NAMESPACE, "account|kind|#n") for the account's n-th
episode of that kind, counted in the account's state; the same events evaluated at the same points
(a replay, a crash and redelivery, another batching) count the same episodes and give the same ids,
and two episodes never share one. The episode start (the departure's time, the first negative item
of the run, else the UTC day the condition was first seen) is reported, not part of the id. Event
ids derive from the alert id and the step they record.

Severity: grade_red is high; score_drop low while the account is still green, else medium, and
high past threshold + step; usage_decline medium, high past threshold + step;
champion_left high for a champion, medium for a sponsor alone; negative_feedback medium, high at
twice the run count. Any of them goes one level up (to critical at most) when the account renews
within `renewal_critical_days`: a risk near renewal is the one that costs revenue first.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.health.domain.calibration import Calibration
from services.health.domain.contracts import ContractSummary, contract_summary
from services.health.domain.days import day_number, require_aware, start_of_day
from services.health.domain.explain import Reason, explain_change, part_reason, top_reasons
from services.health.domain.measures import plural, unreplaced_departures
from services.health.domain.scorecard import ALERT_KINDS, AlertRules, Scorecard
from services.health.domain.scoring import HealthScore
from services.health.domain.signals import AccountSignals

ALERT_NAMESPACE = uuid.UUID("5b0e7a3c-2f64-4c1d-9e8a-7d3f1b6c0a92")
"""Fixed forever: changing it would change every alert id and break de-duplication."""

SEVERITIES = ("low", "medium", "high", "critical")


BUDGET_FAMILY: Mapping[str, str] = {
    "grade_red": "health", "score_drop": "health", "usage_decline": "health",
    "champion_left": "relationships", "negative_feedback": "sentiment",
}
"""The alert budget is per family of trouble: a second alert about the same falling health within a
quarter is nagging; a champion leaving is news even after one."""


def alert_id(account_id: str, kind: str, episode: int) -> str:
    """The id of the account's `episode`-th alert of `kind` (1, 2, ...). Counting episodes, rather than
    naming them by a time, is what keeps two episodes apart whatever the times say: two episodes
    can share a start day (a condition that resolves and returns the same day), and the time an
    episode is detected at is not always its own (a late event is evaluated at the latest point)."""
    if episode < 1:
        raise ValueError(f"episodes are counted from 1, got {episode}")
    return str(uuid.uuid5(ALERT_NAMESPACE, f"{account_id}|{kind}|#{episode}"))


@dataclass(frozen=True, slots=True)
class OpenAlert:
    alert_id: str
    kind: str
    severity: str
    episode_start: datetime
    raised_at: datetime
    magnitude: float
    """How bad when last (re)raised: points dropped, % decline, departures, negative items."""
    baseline: float | None = None
    """What recovery is measured against: the pre-drop score, the prior active users."""


@dataclass(frozen=True, slots=True)
class AlertDecision:
    action: str  # "raised" | "escalated" | "resolved"
    alert_id: str
    event_id: str
    kind: str
    severity: str
    episode_start: datetime
    occurred_at: datetime
    magnitude: float
    baseline: float | None
    score: float
    previous_score: float | None
    grade: str
    reasons: tuple[Reason, ...]
    renewal_date: date | None = None
    days_to_renewal: int | None = None
    arr_at_risk: Decimal | None = None
    churn_probability: float | None = None
    """From the scorecard's calibration: the share of accounts at this score that churned (None: not calibrated)."""
    kind_precision: float | None = None
    """From the scorecard's calibration: the share of this kind's past alerts followed by churn or contraction."""

    @property
    def event_type(self) -> str:
        return "churn_risk.resolved" if self.action == "resolved" else "churn_risk.raised"

    def open_alert(self) -> OpenAlert | None:
        """The open-alert state to store after this decision (None once resolved)."""
        if self.action == "resolved":
            return None
        return OpenAlert(self.alert_id, self.kind, self.severity, self.episode_start, self.occurred_at,
                         self.magnitude, self.baseline)

    def to_event_data(self) -> dict[str, Any]:
        """The contract's churn-risk fields, JSON-safe (the shell adds the envelope)."""
        return {
            "alert_id": self.alert_id, "action": self.action, "kind": self.kind, "severity": self.severity,
            "score": self.score, "previous_score": self.previous_score, "grade": self.grade,
            "reasons": [r.to_json() for r in self.reasons],
            "episode_start": self.episode_start.isoformat(),
            "renewal_date": None if self.renewal_date is None else self.renewal_date.isoformat(),
            "days_to_renewal": self.days_to_renewal,
            "arr_at_risk": None if self.arr_at_risk is None else str(self.arr_at_risk),
            "churn_probability": self.churn_probability, "kind_precision": self.kind_precision,
        }


@dataclass(frozen=True, slots=True)
class Suppressed:
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class AlertDecisions:
    raised: tuple[AlertDecision, ...] = ()
    """New alerts and escalations of open ones (both are `churn_risk.raised`)."""
    resolved: tuple[AlertDecision, ...] = ()
    suppressed: tuple[Suppressed, ...] = ()
    onsets: Mapping[str, datetime] = field(default_factory=dict)
    """kind -> since when its condition has held without a break (for the sustain rule)."""

    @property
    def decisions(self) -> tuple[AlertDecision, ...]:
        return self.raised + self.resolved


@dataclass(frozen=True, slots=True)
class _Condition:
    severity: str
    magnitude: float
    baseline: float | None
    episode_start: datetime
    reasons: tuple[Reason, ...]
    step: float | None = None


@dataclass(frozen=True, slots=True)
class _Context:
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

    def severity(self, base: str) -> str:
        days = self.contract.days_to_renewal(self.as_of.date())
        near = days is not None and 0 <= days <= self.rules.renewal_critical_days
        return SEVERITIES[min(len(SEVERITIES) - 1, SEVERITIES.index(base) + near)]


def _grade_red(ctx: _Context, open_alert: OpenAlert | None) -> _Condition | None:
    if ctx.current.grade != "red":
        return None
    return _Condition(ctx.severity("high"), ctx.current.total, None, ctx.detected_on,
                      tuple(top_reasons(ctx.current, 3)))


def _score_drop(ctx: _Context, open_alert: OpenAlert | None) -> _Condition | None:
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
    base = "high" if drop >= r.score_drop_points + r.score_drop_step else (
        "low" if ctx.current.grade == "green" else "medium")  # still green after the drop: watch it
    return _Condition(ctx.severity(base), drop, peak, ctx.detected_on,
                      (headline, *_change(ctx)[:3]), r.score_drop_step)


def _change(ctx: _Context) -> Sequence[Reason]:
    return ctx.change if ctx.change is not None else explain_change(ctx.previous, ctx.current)


_HELD_SINCE_EPISODE = frozenset({"champion_left"})
"""Kinds whose condition is known to have held since its episode started (a departure nobody has
replaced since), even when the event saying so arrived late: the sustain is counted from then."""


def _champion_left(ctx: _Context, open_alert: OpenAlert | None) -> _Condition | None:
    departed = unreplaced_departures(ctx.signals, day_number(ctx.as_of))
    if not departed:
        return None
    base = "high" if any(d.role == "champion" for d in departed) else "medium"
    reason = part_reason(ctx.current, "relationship", "key_contacts")
    # The episode starts at its first departure since the last resolve (when a replacement leaves
    # too, the old departure is unreplaced again, but it belongs to the episode that resolved).
    resolved = ctx.last_resolved.get("champion_left")
    fresh = [d.stamp.at for d in departed if resolved is None or d.stamp.at > resolved]
    episode_start = min(fresh) if fresh else max(d.stamp.at for d in departed)
    return _Condition(ctx.severity(base), float(len(departed)), None, episode_start,
                      (reason,) if reason else (), 1.0)


def _usage_decline(ctx: _Context, open_alert: OpenAlert | None) -> _Condition | None:
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
    base = "high" if decline >= threshold + ctx.rules.usage_decline_step else "medium"
    reasons = tuple(r for p in ("trend", "utilisation") if (r := part_reason(ctx.current, "usage", p)))
    return _Condition(ctx.severity(base), decline, baseline, ctx.detected_on, reasons,
                      ctx.rules.usage_decline_step)


def _negative_feedback(ctx: _Context, open_alert: OpenAlert | None) -> _Condition | None:
    r = ctx.rules
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
    base = "high" if len(run) >= 2 * r.negative_feedback_count else "medium"
    return _Condition(ctx.severity(base), float(len(run)), None, run[0].stamp.at, (reason,),
                      float(r.negative_feedback_count))


def _recovered(kind: str, ctx: _Context, open_alert: OpenAlert, condition: _Condition | None) -> bool:
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


_DETECTORS: Mapping[str, Callable[[_Context, OpenAlert | None], _Condition | None]] = {
    "grade_red": _grade_red,
    "score_drop": _score_drop,
    "champion_left": _champion_left,
    "usage_decline": _usage_decline,
    "negative_feedback": _negative_feedback,
}


def _worsened(open_alert: OpenAlert, condition: _Condition) -> bool:
    if SEVERITIES.index(condition.severity) > SEVERITIES.index(open_alert.severity):
        return True
    return condition.step is not None and condition.magnitude >= open_alert.magnitude + condition.step


def evaluate_alerts(
    *,
    account_id: str,
    previous: HealthScore | None,
    current: HealthScore,
    score_history: Sequence[tuple[datetime, float]],
    open_alerts: Mapping[str, OpenAlert],
    signals: AccountSignals,
    scorecard: Scorecard,
    as_of: datetime,
    last_resolved: Mapping[str, datetime] | None = None,
    episodes: Mapping[str, int] | None = None,
    onsets: Mapping[str, datetime] | None = None,
    recent_raises: Sequence[tuple[datetime, str]] = (),
    contract: ContractSummary | None = None,
    change: Sequence[Reason] | None = None,
) -> AlertDecisions:
    """Decisions for one account after scoring it at `as_of`.

    `score_history` holds earlier (time, total) points (the current score need not be in it);
    `open_alerts` maps kind -> the open alert of that kind; `last_resolved` maps kind -> when its
    last alert was resolved, for the cool-down (an addition to the brief: the cool-down cannot be
    judged without it); `episodes` maps kind -> how many episodes of it were raised before (the new
    one's number is the next); `onsets` maps kind -> since when its condition has held (a condition
    alerts only once it has held for the kind's sustain days); `recent_raises` are the (time, kind) of the
    account's new episodes of any kind, for the budget. Disabled kinds are left alone, open or not.

    `contract` (the summary on as_of's UTC date) and `change` (`explain_change(previous, current)`)
    save recomputing what the caller already has; left out, they are derived here.
    """
    as_of = require_aware(as_of, "as_of")
    ctx = _Context(previous, current, score_history, signals, scorecard.alerts, as_of,
                   contract if contract is not None else contract_summary(signals, as_of.date()),
                   last_resolved or {}, change, scorecard.calibration)
    raised: list[AlertDecision] = []
    resolved: list[AlertDecision] = []
    suppressed: list[Suppressed] = []
    held_since: dict[str, datetime] = {}
    window_start = as_of - timedelta(days=ctx.rules.budget_days)
    spent = Counter(BUDGET_FAMILY[kind] for t, kind in recent_raises if t > window_start)
    for kind in ALERT_KINDS:
        if kind not in ctx.rules.enabled:
            continue
        open_alert = open_alerts.get(kind)
        condition = _DETECTORS[kind](ctx, open_alert)
        if condition is not None:
            held_since[kind] = (onsets or {}).get(kind, as_of)
            if kind in _HELD_SINCE_EPISODE:
                held_since[kind] = min(held_since[kind], condition.episode_start)
        if open_alert is not None:
            if _recovered(kind, ctx, open_alert, condition):
                resolved.append(_decide(ctx, "resolved", open_alert.alert_id, kind, open_alert, condition))
            elif condition is not None and _worsened(open_alert, condition):
                raised.append(_decide(ctx, "escalated", open_alert.alert_id, kind, open_alert, condition))
            continue
        if condition is None:
            continue
        sustain = timedelta(days=ctx.rules.sustain_days(kind))
        if as_of - held_since[kind] < sustain:
            suppressed.append(Suppressed(kind, f"held since {held_since[kind].isoformat()}; alerts after "
                                               f"{ctx.rules.sustain_days(kind)} days"))
            continue
        quiet_since = (last_resolved or {}).get(kind)
        if quiet_since is not None and as_of - quiet_since < timedelta(days=ctx.rules.cooldown_days):
            suppressed.append(Suppressed(kind, f"resolved {quiet_since.isoformat()}, within the "
                                               f"{ctx.rules.cooldown_days}-day cool-down"))
            continue
        family = BUDGET_FAMILY[kind]
        if spent[family] >= ctx.rules.budget:
            suppressed.append(Suppressed(kind, f"{plural(spent[family], 'alert')} on this account's {family} "
                                               f"in the last {ctx.rules.budget_days} days (budget "
                                               f"{ctx.rules.budget}); the grade and the open alerts show it"))
            continue
        new_id = alert_id(account_id, kind, (episodes or {}).get(kind, 0) + 1)
        raised.append(_decide(ctx, "raised", new_id, kind, None, condition))
        spent[family] += 1
    return AlertDecisions(tuple(raised), tuple(resolved), tuple(suppressed), held_since)


def _decide(ctx: _Context, action: str, the_id: str, kind: str, open_alert: OpenAlert | None,
            condition: _Condition | None) -> AlertDecision:
    if action == "resolved":
        assert open_alert is not None
        severity, magnitude, baseline = open_alert.severity, open_alert.magnitude, open_alert.baseline
        episode_start = open_alert.episode_start
        event_id = uuid.uuid5(ALERT_NAMESPACE, f"{the_id}|resolved")
        reasons: tuple[Reason, ...] = (Reason(_COMPONENT[kind], 0.0, _cleared_detail(kind, ctx, open_alert)),)
    else:
        assert condition is not None
        severity, magnitude, baseline = condition.severity, condition.magnitude, condition.baseline
        episode_start = open_alert.episode_start if open_alert else condition.episode_start
        reasons = condition.reasons
        if action == "raised":
            event_id = uuid.uuid5(ALERT_NAMESPACE, f"{the_id}|raised")
        else:
            bucket = int(magnitude // condition.step) if condition.step else 0
            event_id = uuid.uuid5(ALERT_NAMESPACE, f"{the_id}|escalated|{severity}|{bucket}")
    on = ctx.as_of.date()
    return AlertDecision(
        action=action, alert_id=the_id, event_id=str(event_id), kind=kind, severity=severity,
        episode_start=episode_start, occurred_at=ctx.as_of, magnitude=magnitude, baseline=baseline,
        score=ctx.current.total, previous_score=ctx.previous.total if ctx.previous else None,
        grade=ctx.current.grade, reasons=reasons, renewal_date=ctx.contract.renewal_date,
        days_to_renewal=ctx.contract.days_to_renewal(on), arr_at_risk=ctx.contract.arr,
        churn_probability=ctx.calibration.probability_at(ctx.current.total) if ctx.calibration else None,
        kind_precision=ctx.calibration.precision_of(kind) if ctx.calibration else None,
    )


_COMPONENT = {"grade_red": "overall", "score_drop": "overall", "champion_left": "relationship",
              "usage_decline": "usage", "negative_feedback": "sentiment"}


def _cleared_detail(kind: str, ctx: _Context, open_alert: OpenAlert) -> str:
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
