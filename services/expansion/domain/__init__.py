"""Pure expansion domain: signals folded from events, the product catalogue, upsell rules,
whitespace and opportunity episodes. No I/O, no clock reads: `as_of` is always a parameter.

How the shell uses it, per batch and per touched account:

1. `signals_from_json(state)` (empty for a new account), then `apply_events(signals, events)`;
2. `snapshot(account_id, signals, thresholds, as_of=latest event time)`;
3. `evaluate_triggers(snap, catalogue, thresholds)`;
4. `new_opportunities(account_id, triggers, latest episodes, thresholds, as_of=...)`: insert them
   (ON CONFLICT DO NOTHING) and emit `upsell.triggered` for the ones inserted;
5. store `signals_to_json(signals)`.
"""

from services.expansion.domain.catalogue import Catalogue, CatalogueInvalid, Product, parse_catalogue
from services.expansion.domain.codec import signals_from_json, signals_to_json
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
    SignalEvent,
    apply_events,
)
from services.expansion.domain.snapshot import Snapshot, snapshot
from services.expansion.domain.thresholds import Thresholds
from services.expansion.domain.whitespace import WhitespaceFit, whitespace

__all__ = [
    "ACTIVE_WINDOW_DAYS",
    "CLOSED_STAGES",
    "EMPTY_SIGNALS",
    "OPEN_STAGES",
    "STAGES",
    "Catalogue",
    "CatalogueInvalid",
    "ExpansionSignals",
    "LatestEpisode",
    "NewOpportunity",
    "Product",
    "SignalEvent",
    "Snapshot",
    "Stage",
    "Thresholds",
    "Trigger",
    "WhitespaceFit",
    "apply_events",
    "can_move",
    "evaluate_triggers",
    "new_opportunities",
    "opportunity_id",
    "parse_catalogue",
    "signals_from_json",
    "signals_to_json",
    "snapshot",
    "whitespace",
]
