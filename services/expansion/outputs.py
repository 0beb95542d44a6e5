"""The output events: `upsell.triggered` on `orchard.signals.upsell.v1` for a new opportunity, and
`churn_risk.raised` / `.resolved` of kind `revenue_health_divergence` on
`orchard.alerts.churn-risk.v1` when an account's ARR and health move apart (`domain.divergence`).

Ids are deterministic: an upsell's from the opportunity id (account, kind, product, episode), a
divergence alert's from its episode (account, episode number) and action, so a re-emitted event
carries the same id and consumers can de-duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.expansion.domain import NewOpportunity
from services.expansion.domain.divergence import KIND, DivergenceAlert
from shared.events import ChurnRiskAlert, UpsellTriggered, deterministic_event_id
from shared.outbox import Outbox
from shared.reasons import alert_reasons


def upsell_triggered(opportunity: NewOpportunity, *, emitted_at: datetime) -> UpsellTriggered:
    """With the opportunity it opened (`opportunity_id`, `episode`), so a CRM can PATCH it back."""
    trigger = opportunity.trigger
    return UpsellTriggered(
        event_id=deterministic_event_id("upsell.triggered", opportunity.opportunity_id),
        account_id=opportunity.account_id,
        occurred_at=opportunity.as_of,
        emitted_at=emitted_at,
        kind=trigger.kind,
        product=trigger.product,
        reason=trigger.reason[:2_000],
        evidence_event_ids=trigger.evidence_event_ids,
        estimated_arr_uplift=trigger.estimated_arr_uplift,
        confidence=trigger.confidence,
        opportunity_id=opportunity.opportunity_id,
        episode=opportunity.episode,
    )


def emit(outbox: Outbox, opportunities: Iterable[NewOpportunity], *, topic: str, emitted_at: datetime) -> None:
    for opportunity in opportunities:
        outbox.emit(topic=topic, key=opportunity.account_id, event=upsell_triggered(opportunity, emitted_at=emitted_at))


def divergence_alert(alert: DivergenceAlert, *, emitted_at: datetime) -> ChurnRiskAlert:
    """With what ties one episode together (`alert_id`, `action`, `episode`, `episode_start`), the
    direction and the ARR by currency."""
    single = next(iter(alert.arr_now.values())) if len(alert.arr_now) == 1 else None
    return ChurnRiskAlert(
        event_id=alert.event_id, type=f"churn_risk.{alert.action}", account_id=alert.account_id,
        occurred_at=alert.at, emitted_at=emitted_at, kind=KIND, severity=alert.severity,
        score=alert.score, previous_score=alert.previous_score,
        grade=alert.grade,
        reasons=alert_reasons(alert.reasons),
        arr_at_risk=single if alert.direction == "arr_up_health_down" else None,
        alert_id=alert.alert_id, action=alert.action, episode=alert.episode, episode_start=alert.since,
        direction=alert.direction, arr_by_currency=dict(alert.arr_now),
    )


def emit_divergence(outbox: Outbox, alerts: Iterable[DivergenceAlert], *, topic: str, emitted_at: datetime) -> None:
    for alert in alerts:
        outbox.emit(topic=topic, key=alert.account_id, event=divergence_alert(alert, emitted_at=emitted_at))
