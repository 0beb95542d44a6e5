"""Deciding in event time: the rules run after every event, at that event's time (the account's
latest event time when the event is late), so what is triggered never depends on where a consumer
batch ended. A batch of a hundred events and a hundred batches of one open the same opportunities
with the same ids, because each is the first episode of its (kind, product) after the same event.

While the account's health shuts the gate (red, or a churn-risk alert open: `health_gate`), what
would open is kept as held instead, with why; the first event at which the gate is open again runs
the rules as usual, so a held trigger that still holds fires then, under the id it would have had.

After each event, revenue and health are compared over the divergence window (`divergence`): an
episode of ARR and health moving apart starts or ends there, as an alert to emit.

Before the rules run at an event, the open opportunities it wins or that have expired by then are
closed (`closing`), so the same event never re-raises what it just won.

The handler and the backtest both fold through `decide`; nothing else runs the rules on events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from services.expansion.domain.catalogue import Catalogue
from services.expansion.domain.closing import Closed, expire, holdings, win
from services.expansion.domain.cohorts import NO_HISTORY, NormsAt
from services.expansion.domain.divergence import ArrPoint, DivergenceAlert, judge, record_arr, record_health
from services.expansion.domain.health_gate import HealthGate, Held, with_held
from services.expansion.domain.opportunities import LatestEpisode, NewOpportunity, new_opportunities
from services.expansion.domain.rules import evaluate_triggers
from services.expansion.domain.signals import ExpansionSignals, apply_events
from services.expansion.domain.snapshot import snapshot
from services.expansion.domain.thresholds import Thresholds
from services.expansion.domain.trigger import uplift_currency
from shared.events import ContractTerms, HealthChanged
from shared.health_reading import HealthReading
from shared.signal_events import SignalEvent


@dataclass(frozen=True)
class Decided:
    """One account's state through a fold: its signals, the latest episode of each (kind, product),
    and the opportunities opened and closed so far in this fold."""

    signals: ExpansionSignals
    latest: Mapping[tuple[str, str], LatestEpisode] = field(default_factory=dict)
    opened: tuple[NewOpportunity, ...] = ()
    closed: tuple[Closed, ...] = ()
    alerts: tuple[DivergenceAlert, ...] = ()


def decide(state: Decided, account_id: str, events: Sequence[SignalEvent], *, catalogue: Catalogue,
           thresholds: Thresholds, norms: NormsAt = NO_HISTORY) -> Decided:
    """Fold `events` (in the order given: event time) one at a time, running the rules after each with
    the cohort norms in force at that time (so a replay judges each event as the live run did)."""
    signals, latest, opened, closed = state.signals, dict(state.latest), list(state.opened), list(state.closed)
    alerts = list(state.alerts)
    for event in events:
        before = signals
        signals = apply_events(signals, [event])
        assert signals.latest_at is not None  # an event was just applied
        as_of = signals.latest_at
        signals, diverged = _divergence(signals, account_id, event, as_of, thresholds)
        alerts += diverged
        latest, expired = expire(latest, account_id=account_id, as_of=as_of, ttl_days=thresholds.opportunity_ttl_days)
        closed += expired
        if isinstance(event.data, ContractTerms) and latest:
            latest, won = win(latest, account_id=account_id, event=event, before=holdings(before, as_of),
                              after=holdings(signals, as_of))
            closed += won
        snap = snapshot(account_id, signals, thresholds, as_of=as_of)
        triggers = evaluate_triggers(snap, catalogue, thresholds, norms.at(as_of))
        would_open = new_opportunities(account_id, triggers, latest, thresholds, as_of=as_of)
        held_reason = signals.gate.hold_reason()
        if held_reason is not None:
            signals = replace(signals, gate=with_held(signals.gate, [_held(n, held_reason) for n in would_open]))
            continue
        released = signals.gate
        if released.held:
            signals = replace(signals, gate=with_held(released, []))
        for new in (_released(n, released) for n in would_open):
            t = new.trigger
            latest[t.kind, t.product] = LatestEpisode(t.kind, t.product, new.episode, "open", t.estimated_arr_uplift,
                                                      None, progressed_at=new.as_of)
            opened.append(replace(new, currency=uplift_currency(signals, catalogue, t.product, as_of=as_of)))
    return Decided(signals, latest, tuple(opened), tuple(closed), tuple(alerts))


def _divergence(signals: ExpansionSignals, account_id: str, event: SignalEvent, as_of: datetime,
                thresholds: Thresholds) -> tuple[ExpansionSignals, list[DivergenceAlert]]:
    """Record the event's ARR or health point, then judge the divergence at `as_of`."""
    rules, state = thresholds.divergence_rules, signals.divergence
    if event.event_type.startswith("contract."):
        point = ArrPoint(as_of, event.event_id, tuple(signals.arr_by_currency(as_of).items()))
        state = record_arr(state, point, window_days=rules.window_days)
    elif isinstance(event.data, HealthChanged):
        state = record_health(state, HealthReading.of(event.data), window_days=rules.window_days)
    alerts: list[DivergenceAlert] = []
    if state.arr and state.health:
        state, alerts = judge(state, account_id, as_of=as_of, arr_now=signals.arr_by_currency(as_of), rules=rules)
    # Most events (usage) change nothing here: keep the same signals object rather than copy it per event.
    return (signals if state is signals.divergence else replace(signals, divergence=state)), alerts


def _held(new: NewOpportunity, held_reason: str) -> Held:
    t = new.trigger
    return Held(t.kind, t.product, t.reason, held_reason, new.as_of, new.as_of, t.evidence_event_ids,
                t.estimated_arr_uplift, t.confidence)


def _released(new: NewOpportunity, gate: HealthGate) -> NewOpportunity:
    """The opportunity, its reason saying so when it had been held until now."""
    held = gate.held.get((new.trigger.kind, new.trigger.product))
    if held is None:
        return new
    why = held.held_reason.removeprefix("held: ")
    reason = f"{new.trigger.reason}; held from {held.since.date().isoformat()} because {why}, released on recovery"
    return replace(new, trigger=replace(new.trigger, reason=reason))
