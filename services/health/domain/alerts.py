"""Churn-risk alert rules: which alerts to raise, escalate or resolve after a (re)score.

Alert fatigue is fought three ways (as Vitally, ChurnZero and Gainsight do):
* one open alert per account and kind: while it is open, the same condition does not raise again;
  it is re-raised (same alert id, new event id) only when it WORSENS: a higher severity, or a
  further move of at least the configured step;
* a resolved kind stays quiet for `cooldown_days`, so a condition flickering at its threshold does
  not alert every other day;
* conditions clear with a margin (a score drop clears when half of it is recovered, a usage decline
  when active users are back within half the threshold), again so that alerts do not flap.

Ids and the decisions' shape are in `alert_decisions`; each kind's condition, severity and recovery
in `alert_conditions`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from services.health.domain.alert_conditions import (
    CLEARED_COMPONENT,
    DETECTORS,
    HELD_SINCE_EPISODE,
    AlertContext,
    Condition,
    cleared_detail,
    recovered,
    worsened,
)
from services.health.domain.alert_decisions import (
    AlertDecision,
    AlertDecisions,
    HealthAlertAction,
    OpenAlert,
    Suppressed,
    alert_id,
    step_event_id,
)
from services.health.domain.contracts import ContractSummary, contract_summary
from services.health.domain.measures import plural
from services.health.domain.scorecard import ALERT_KINDS, Scorecard
from services.health.domain.scoring import HealthScore
from services.health.domain.signals import AccountSignals
from shared.days import require_aware
from shared.reasons import Reason

BUDGET_FAMILY: Mapping[str, str] = {
    "grade_red": "health", "score_drop": "health", "usage_decline": "health",
    "champion_left": "relationships", "negative_feedback": "sentiment",
}
"""The alert budget is per family of trouble: a second alert about the same falling health within a
quarter is nagging; a champion leaving is news even after one."""


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
    ctx = AlertContext(previous, current, score_history, signals, scorecard.alerts, as_of,
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
        condition = DETECTORS[kind](ctx, open_alert)
        if condition is not None:
            held_since[kind] = (onsets or {}).get(kind, as_of)
            if kind in HELD_SINCE_EPISODE:
                held_since[kind] = min(held_since[kind], condition.episode_start)
        if open_alert is not None:
            if recovered(kind, ctx, open_alert, condition):
                resolved.append(_decide(ctx, "resolved", open_alert.alert_id, kind, open_alert, condition))
            elif condition is not None and worsened(open_alert, condition):
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


def _decide(ctx: AlertContext, action: HealthAlertAction, the_id: str, kind: str, open_alert: OpenAlert | None,
            condition: Condition | None) -> AlertDecision:
    if action == "resolved":
        assert open_alert is not None
        severity, magnitude, baseline = open_alert.severity, open_alert.magnitude, open_alert.baseline
        episode_start = open_alert.episode_start
        event_id = step_event_id(the_id, "resolved")
        reasons: tuple[Reason, ...] = (Reason(CLEARED_COMPONENT[kind], 0.0, cleared_detail(kind, ctx, open_alert)),)
    else:
        assert condition is not None
        severity, magnitude, baseline = condition.severity, condition.magnitude, condition.baseline
        episode_start = open_alert.episode_start if open_alert else condition.episode_start
        reasons = condition.reasons
        if action == "raised":
            event_id = step_event_id(the_id, "raised")
        else:
            bucket = int(magnitude // condition.step) if condition.step else 0
            event_id = step_event_id(the_id, "escalated", severity, str(bucket))
    on = ctx.as_of.date()
    return AlertDecision(
        action=action, alert_id=the_id, event_id=event_id, kind=kind, severity=severity,
        episode_start=episode_start, occurred_at=ctx.as_of, magnitude=magnitude, baseline=baseline,
        score=ctx.current.total, previous_score=ctx.previous.total if ctx.previous else None,
        grade=ctx.current.grade, reasons=reasons, renewal_date=ctx.contract.renewal_date,
        days_to_renewal=ctx.contract.days_to_renewal(on), arr_at_risk=ctx.contract.arr,
        churn_probability=ctx.calibration.probability_at(ctx.current.total) if ctx.calibration else None,
        kind_precision=ctx.calibration.precision_of(kind) if ctx.calibration else None,
    )
