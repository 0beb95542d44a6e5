"""Pure health domain: signals folded from events, scoring, explanations, overrides, alerts, trend.

Plain frozen data in, plain frozen data out; no I/O, no clock reads (time is always a parameter).

How the shell is expected to use it, per batch and per account:

1. load the account's state (`signals_from_json` of a JSONB column, else EMPTY_SIGNALS), its
   last HealthScore (`health_score_from_json`), open alerts, last resolve times, score history;
2. `apply_events(signals, [SignalEvent(...), ...])`: one copy of the state for the whole batch;
3. `score_account(signals, scorecard_for(contract_summary(signals, day).segment, cards),
   as_of=..., previous_grade=last.grade)`; `explain_change(last, score)` for the stored reasons;
4. `evaluate_alerts(...)`: write `decision.to_event_data()` to the outbox under
   `decision.event_id`, store `decision.open_alert()` (None once resolved);
5. store `signals_to_json(signals)`, `health_score_to_json(score)` with `score.scorecard_version`.

The scheduled re-evaluation of silent accounts is step 3-5 with a later `as_of` and no events.
"""

from services.health.domain.alerts import (
    ALERT_NAMESPACE,
    SEVERITIES,
    AlertDecision,
    AlertDecisions,
    OpenAlert,
    Suppressed,
    alert_id,
    evaluate_alerts,
)
from services.health.domain.contracts import ContractSummary, contract_summary
from services.health.domain.explain import Reason, explain_change, top_reasons
from services.health.domain.fold import (
    HANDLED_EVENT_TYPES,
    SignalEvent,
    UnknownEventType,
    apply_event,
    apply_events,
)
from services.health.domain.measures import ComponentScore, Part
from services.health.domain.overrides import EffectiveHealth, Override, apply_overrides
from services.health.domain.scorecard import (
    ALERT_KINDS,
    COMPONENTS,
    DEFAULT_SCORECARDS,
    AlertRules,
    CriticalMeasure,
    GradeThresholds,
    Scorecard,
    ScorecardInvalid,
    Targets,
    scorecard_for,
    scorecard_to_json,
    validate_scorecard,
)
from services.health.domain.scoring import (
    HealthScore,
    component_scores,
    grade_with_hysteresis,
    health_score_from_json,
    health_score_to_json,
    score_account,
)
from services.health.domain.signals import (
    EMPTY_SIGNALS,
    HORIZON_DAYS,
    AccountSignals,
    signals_from_json,
    signals_to_json,
)
from services.health.domain.trend import trend

__all__ = [
    "ALERT_KINDS",
    "ALERT_NAMESPACE",
    "COMPONENTS",
    "DEFAULT_SCORECARDS",
    "EMPTY_SIGNALS",
    "HANDLED_EVENT_TYPES",
    "HORIZON_DAYS",
    "SEVERITIES",
    "AccountSignals",
    "AlertDecision",
    "AlertDecisions",
    "AlertRules",
    "ComponentScore",
    "ContractSummary",
    "CriticalMeasure",
    "EffectiveHealth",
    "GradeThresholds",
    "HealthScore",
    "OpenAlert",
    "Override",
    "Part",
    "Reason",
    "Scorecard",
    "ScorecardInvalid",
    "SignalEvent",
    "Suppressed",
    "Targets",
    "UnknownEventType",
    "alert_id",
    "apply_event",
    "apply_events",
    "apply_overrides",
    "component_scores",
    "contract_summary",
    "evaluate_alerts",
    "explain_change",
    "grade_with_hysteresis",
    "health_score_from_json",
    "health_score_to_json",
    "score_account",
    "scorecard_for",
    "scorecard_to_json",
    "signals_from_json",
    "signals_to_json",
    "top_reasons",
    "trend",
    "validate_scorecard",
]
