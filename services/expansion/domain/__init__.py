"""Pure expansion domain: signals folded from events, the product catalogue, upsell rules,
whitespace and opportunity episodes. No I/O, no clock reads: `as_of` is always a parameter.

How the shell uses it, per batch and per touched account:

1. `signals_from_json(state)` (empty for a new account) and the latest stored episodes;
2. `decide(...)` folds the new events one at a time (`apply_events`), and after each runs
   `snapshot(account_id, signals, thresholds, as_of=latest event time)`, `evaluate_triggers(...)`
   and `new_opportunities(...)`: the decisions are taken per event, in event time; while the
   account is red or has a churn-risk alert open, what would open is held instead (`health_gate`);
3. the shell inserts the opened opportunities (ON CONFLICT DO NOTHING), emits `upsell.triggered`
   for the ones inserted and stores `signals_to_json(signals)`.
"""

from services.expansion.domain.catalogue import Catalogue, CatalogueInvalid, PlanLimit, Product, parse_catalogue
from services.expansion.domain.closing import Closed, expires_at
from services.expansion.domain.codec import signals_from_json, signals_to_json
from services.expansion.domain.cohorts import (
    NO_HISTORY,
    NO_NORMS,
    CohortNorms,
    NormsHistory,
    build_norms,
    cohort_key,
    norms_from_json,
    norms_to_json,
)
from services.expansion.domain.decide import Decided, decide
from services.expansion.domain.health_gate import GATE_EVENT_TYPES, HealthGate, Held
from services.expansion.domain.opportunities import (
    CLOSED_STAGES,
    OPEN_STAGES,
    STAGES,
    LatestEpisode,
    NewOpportunity,
    Stage,
    can_move,
    new_opportunities,
    opportunity_id,
)
from services.expansion.domain.rules import Trigger, evaluate_triggers
from services.expansion.domain.signals import (
    ACTIVE_WINDOW_DAYS,
    EMPTY_SIGNALS,
    ExpansionSignals,
    apply_events,
)
from services.expansion.domain.snapshot import Snapshot, snapshot
from services.expansion.domain.thresholds import Thresholds
from services.expansion.domain.whitespace import WhitespaceFit, whitespace
from shared.signal_events import SignalEvent

__all__ = [
    "ACTIVE_WINDOW_DAYS",
    "CLOSED_STAGES",
    "EMPTY_SIGNALS",
    "GATE_EVENT_TYPES",
    "NO_HISTORY",
    "NO_NORMS",
    "OPEN_STAGES",
    "STAGES",
    "Catalogue",
    "CatalogueInvalid",
    "Closed",
    "CohortNorms",
    "Decided",
    "ExpansionSignals",
    "HealthGate",
    "Held",
    "LatestEpisode",
    "NewOpportunity",
    "NormsHistory",
    "PlanLimit",
    "Product",
    "SignalEvent",
    "Snapshot",
    "Stage",
    "Thresholds",
    "Trigger",
    "WhitespaceFit",
    "apply_events",
    "build_norms",
    "can_move",
    "cohort_key",
    "decide",
    "evaluate_triggers",
    "expires_at",
    "new_opportunities",
    "norms_from_json",
    "norms_to_json",
    "opportunity_id",
    "parse_catalogue",
    "signals_from_json",
    "signals_to_json",
    "snapshot",
    "whitespace",
]
