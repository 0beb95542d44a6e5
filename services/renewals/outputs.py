"""The output events of renewal risk: `churn_risk.raised` / `churn_risk.resolved` of kind
`renewal_at_risk` on `orchard.alerts.churn-risk.v1`, with the renewal date, the days left and the
ARR at risk. An escalation and a reminder are `churn_risk.raised` too (the contract has no other
type), told apart by `action`; `alert_id` ties one episode's events together. Ids come from the
decision (renewal, episode, severity or reminder window), so a re-emit carries the same id;
`occurred_at` is the point judged at (an event's time or a midnight), `emitted_at` the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.renewals.domain import AlertDecision
from shared.events import ChurnRiskAlert
from shared.outbox import Outbox
from shared.reasons import Reason, alert_reasons

KIND = "renewal_at_risk"


def renewal_alert(decision: AlertDecision, *, emitted_at: datetime) -> ChurnRiskAlert:
    """With the renewal it is about (`renewal_id`, `contract_id`, `currency`, `reminder_days`) and what
    ties one episode together (`alert_id`, `action`, `episode`, `episode_start`)."""
    renewal, health = decision.renewal, decision.health
    term = renewal.term
    due = (f"renewal of contract {renewal.contract_id} on {renewal.renewal_date.isoformat()} "
           f"({decision.days_to_renewal} days) at {renewal.risk.band} risk: {term.arr:f} {term.currency} ARR")
    if decision.action == "resolved":
        summary = f"renewal of contract {renewal.contract_id} is no longer at high risk ({_why_cleared(decision)})"
    elif decision.action == "reminded":
        summary = f"reminder, {decision.reminder_days} days or fewer to go: {due}"
    else:
        summary = due
    return ChurnRiskAlert(
        event_id=decision.event_id,
        type="churn_risk.resolved" if decision.action == "resolved" else "churn_risk.raised",
        account_id=renewal.account_id,
        occurred_at=decision.at,
        emitted_at=emitted_at,
        kind=KIND,
        severity=decision.severity,
        score=health.score,
        previous_score=health.previous_score,
        grade=health.grade,
        reasons=alert_reasons((Reason("renewal", 0.0, summary), *renewal.risk.reasons)),
        renewal_date=renewal.renewal_date,
        days_to_renewal=decision.days_to_renewal,
        arr_at_risk=renewal.term.arr,
        renewal_id=renewal.renewal_id,
        contract_id=renewal.contract_id,
        currency=renewal.term.currency,
        action=decision.action,
        alert_id=decision.alert_id,
        episode=decision.state.episode,
        episode_start=decision.state.since,
        reminder_days=decision.reminder_days,
    )


def _why_cleared(decision: AlertDecision) -> str:
    renewal = decision.renewal
    if renewal.outcome is not None:
        return f"it was {renewal.outcome}"
    if decision.days_to_renewal < 0:
        return "its date has passed"
    return f"risk is now {renewal.risk.band}"


def emit(outbox: Outbox, alerts: Iterable[ChurnRiskAlert], *, topic: str) -> None:
    for alert in alerts:
        outbox.emit(topic=topic, key=alert.account_id, event=alert)
