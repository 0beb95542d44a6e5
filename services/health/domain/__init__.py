"""Pure health domain: signals folded from events, scoring, explanations, overrides, alerts, trend.

Plain frozen data in, plain frozen data out; no I/O, no clock reads (time is always a parameter).

How the shell uses it, per batch and per account: load the `StoredAccount` (signals, last score,
alert state, recent score points), call `advance(account, new_events, scorecards=...)`, and store
what it returns: the account after its last point, and one `Evaluation` per evaluation point (a
history entry when `changed`, the alert decisions, the output events). The scheduler calls
`advance(account, [], until=today_midnight(now))` so silence counts; a scorecard change calls
`evaluate` at the account's current point.
"""

from services.health.domain.alert_decisions import (
    SEVERITIES,
    AlertDecision,
    AlertDecisions,
    OpenAlert,
    Suppressed,
    alert_id,
)
from services.health.domain.alerts import evaluate_alerts
from services.health.domain.contracts import ContractSummary, contract_summary
from services.health.domain.evaluation import Cause, Evaluation, evaluate, keep_recent
from services.health.domain.explain import explain_change, top_reasons
from services.health.domain.fold import (
    FOLD_REJECTIONS,
    HANDLED_EVENT_TYPES,
    UnknownEventType,
    apply_event,
    apply_events,
)
from services.health.domain.measures import ComponentScore, Part
from services.health.domain.norms import (
    EMPTY_NORMS,
    NO_NORMS,
    CohortNorms,
    NormsHistory,
    build_norms,
    norms_effective_from,
    norms_from_json,
    norms_to_json,
)
from services.health.domain.overrides import EffectiveHealth, Override, apply_overrides
from services.health.domain.scorecard import (
    ALERT_KINDS,
    COMPONENTS,
    DEFAULT_SCORECARDS,
    AlertRules,
    CriticalMeasure,
    GradeThresholds,
    Scorecard,
    Targets,
    scorecard_for,
)
from services.health.domain.scorecard_json import ScorecardInvalid, scorecard_to_json, validate_scorecard
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
from services.health.domain.state import (
    AlertState,
    StoredAccount,
    alert_state_from_json,
    alert_state_to_json,
    recent_scores_from_json,
    recent_scores_to_json,
)
from services.health.domain.timeline import Advance, Rejected, advance, health_now, midnights, today_midnight
from services.health.domain.trend import trend
from services.health.domain.usage import norm_sample, usage_measures
from shared.reasons import Reason
from shared.signal_events import SignalEvent

__all__ = [
    "ALERT_KINDS",
    "COMPONENTS",
    "DEFAULT_SCORECARDS",
    "EMPTY_NORMS",
    "EMPTY_SIGNALS",
    "FOLD_REJECTIONS",
    "HANDLED_EVENT_TYPES",
    "HORIZON_DAYS",
    "NO_NORMS",
    "SEVERITIES",
    "AccountSignals",
    "Advance",
    "AlertDecision",
    "AlertDecisions",
    "AlertRules",
    "AlertState",
    "Cause",
    "CohortNorms",
    "ComponentScore",
    "ContractSummary",
    "CriticalMeasure",
    "EffectiveHealth",
    "Evaluation",
    "GradeThresholds",
    "HealthScore",
    "NormsHistory",
    "OpenAlert",
    "Override",
    "Part",
    "Reason",
    "Rejected",
    "Scorecard",
    "ScorecardInvalid",
    "SignalEvent",
    "StoredAccount",
    "Suppressed",
    "Targets",
    "UnknownEventType",
    "advance",
    "alert_id",
    "alert_state_from_json",
    "alert_state_to_json",
    "apply_event",
    "apply_events",
    "apply_overrides",
    "build_norms",
    "component_scores",
    "contract_summary",
    "evaluate",
    "evaluate_alerts",
    "explain_change",
    "grade_with_hysteresis",
    "health_now",
    "health_score_from_json",
    "health_score_to_json",
    "keep_recent",
    "midnights",
    "norm_sample",
    "norms_effective_from",
    "norms_from_json",
    "norms_to_json",
    "recent_scores_from_json",
    "recent_scores_to_json",
    "score_account",
    "scorecard_for",
    "scorecard_to_json",
    "signals_from_json",
    "signals_to_json",
    "today_midnight",
    "top_reasons",
    "trend",
    "usage_measures",
    "validate_scorecard",
]
