"""The output events of an evaluation: `health.changed` and `churn_risk.raised` / `.resolved`.

Event ids are deterministic for the condition (see the contract, "Output events"): a replayed batch
or a rerun re-emits the same ids, so consumers can de-duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from services.health.domain import AlertDecision, Evaluation, component_scores
from shared.events import ChurnRiskAlert, HealthChanged, OutputEvent, deterministic_event_id
from shared.outbox import Outbox
from shared.reasons import alert_reasons
from shared.settings import TopicSettings

MAX_REASONS = 5


def health_changed(evaluation: Evaluation, *, emitted_at: datetime) -> HealthChanged:
    score, previous = evaluation.score, evaluation.previous
    # The point (the causing event's id, or midnight / scorecard) keeps two changes at one time apart.
    event_id = deterministic_event_id(
        "health.changed", evaluation.account_id, score.as_of.isoformat(), evaluation.point,
        f"{score.segment}/{score.scorecard_version}", f"{score.total:g}", score.grade,
    )
    return HealthChanged(
        event_id=event_id,
        account_id=evaluation.account_id,
        occurred_at=score.as_of,
        emitted_at=emitted_at,
        score=score.total,
        grade=score.grade,
        previous_score=previous.total if previous else None,
        previous_grade=previous.grade if previous else None,
        # Unmeasured components (no data yet) are left out: the contract's values are 0-100.
        components={name: value for name, value in component_scores(score).items() if value is not None},
        as_of=score.as_of,
        scorecard_version=score.scorecard_version,
        reasons=alert_reasons(evaluation.reasons[:MAX_REASONS]),
    )


def churn_risk(account_id: str, decision: AlertDecision, *, emitted_at: datetime) -> ChurnRiskAlert:
    """With `alert_id`, `action` and `episode_start`, which tie a raise, its escalations and its resolve
    together (the inbox acknowledges the alert by them)."""
    return ChurnRiskAlert(
        event_id=decision.event_id,
        type=decision.event_type,
        account_id=account_id,
        occurred_at=decision.occurred_at,
        emitted_at=emitted_at,
        kind=decision.kind,
        severity=decision.severity,
        score=decision.score,
        previous_score=decision.previous_score,
        grade=decision.grade,
        reasons=alert_reasons(decision.reasons),
        renewal_date=decision.renewal_date,
        days_to_renewal=decision.days_to_renewal,
        arr_at_risk=decision.arr_at_risk,
        churn_probability=decision.churn_probability,
        kind_precision=decision.kind_precision,
        alert_id=decision.alert_id,
        action=decision.action,
        episode_start=decision.episode_start,
    )


def output_events(
    evaluation: Evaluation, *, topics: TopicSettings, emitted_at: datetime
) -> Iterator[tuple[str, OutputEvent]]:
    """(topic, event) pairs in the order they are to be published: the score first, then alerts."""
    if evaluation.changed:
        yield topics.account_health, health_changed(evaluation, emitted_at=emitted_at)
    for decision in evaluation.decisions.decisions:
        yield topics.churn_risk, churn_risk(evaluation.account_id, decision, emitted_at=emitted_at)


def all_output_events(
    evaluations: Iterable[Evaluation], *, topics: TopicSettings, emitted_at: datetime
) -> list[tuple[str, OutputEvent]]:
    return [pair for e in evaluations for pair in output_events(e, topics=topics, emitted_at=emitted_at)]


def churn_risk_by_id(events: Iterable[tuple[str, OutputEvent]]) -> dict[str, ChurnRiskAlert]:
    """The churn-risk events by event id: what the store keeps as each alert's payload."""
    return {event.event_id: event for _, event in events if isinstance(event, ChurnRiskAlert)}


def emit(outbox: Outbox, events: Iterable[tuple[str, OutputEvent]]) -> None:
    for topic, event in events:
        outbox.emit(topic=topic, key=event.account_id, event=event)
