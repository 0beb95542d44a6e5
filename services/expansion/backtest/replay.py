"""Replaying one account's history through the pure expansion domain, as the service would decide
it event by event (`domain.decide`), with cohort norms (growth and level) rebuilt at every UTC
midnight from every account's state at that moment (two passes: `growth_by_day` for all accounts,
then `replay_account`).

Opportunities need people to move them along; a replay has none, so it relies on what the service
does without them (`domain.closing`, inside `decide`): an open opportunity is won by the contract
event that adds its product (or more of it), and expires `Thresholds.opportunity_ttl_days` after it
opened otherwise. Then the usual cool-down (`Thresholds.cooldown_days`) applies before the same
(kind, product) can trigger again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.expansion.backtest.judge import RaisedTrigger
from services.expansion.domain import (
    NO_NORMS,
    Catalogue,
    CohortNorms,
    Decided,
    ExpansionSignals,
    SignalEvent,
    Thresholds,
    apply_events,
    decide,
)
from services.expansion.domain.norm_samples import NormSample, norm_sample, norms_from_samples
from shared.days import day_number
from shared.events import Envelope
from shared.signal_events import signal_event_of

GrowthRecord = tuple[int, str, float | None, Mapping[str, float]]
"""(UTC day ordinal, cohort key, growth ratio or None without a baseline, feature -> volume in the
last 30 whole days): one account's standing at the start of a day."""


def signal_events(events: Sequence[Envelope]) -> list[SignalEvent]:
    return [signal_event_of(e) for e in events]


def growth_by_day(events: Sequence[SignalEvent], *, thresholds: Thresholds, last_day: int) -> Iterator[GrowthRecord]:
    """For each day from the account's second day to `last_day`, its growth and its 30-day volumes as
    of that day's start (whole days before it), while it holds a live contract and has a baseline or
    recent usage."""
    if not events:
        return
    signals = ExpansionSignals()
    index = 0
    for day in range(day_number(events[0].occurred_at) + 1, last_day + 1):
        start = index
        while index < len(events) and day_number(events[index].occurred_at) < day:
            index += 1
        if index > start:
            signals = apply_events(signals, events[start:index])
        sample = norm_sample(signals, day=day, min_baseline_days=thresholds.usage_growth_min_baseline_days)
        if sample is not None:
            yield day, sample.cohort, sample.growth, sample.recent


def norms_by_day(records: Sequence[GrowthRecord]) -> dict[int, CohortNorms]:
    days: dict[int, list[tuple[str, float | None, Mapping[str, float]]]] = {}
    for day, key, growth, recent in records:
        days.setdefault(day, []).append((key, growth, recent))
    return {day: norms_from_samples(NormSample(k, g, r) for k, g, r in rows) for day, rows in days.items()}


@dataclass(frozen=True)
class DailyNorms:
    """The norms rebuilt at each UTC midnight: those of an event's day are in force at its time."""

    by_day: Mapping[int, CohortNorms]

    def at(self, moment: datetime) -> CohortNorms:
        return self.by_day.get(day_number(moment), NO_NORMS)


def replay_account(account_id: str, events: Sequence[SignalEvent], *, catalogue: Catalogue, thresholds: Thresholds,
                   norms: Mapping[int, CohortNorms]) -> list[RaisedTrigger]:
    """Every upsell trigger the service would have raised for this account, in event time."""
    state = Decided(ExpansionSignals())
    daily = DailyNorms(norms)
    raised: list[RaisedTrigger] = []
    for event in events:
        state = decide(Decided(state.signals, state.latest), account_id, [event], catalogue=catalogue,
                       thresholds=thresholds, norms=daily)
        raised += [RaisedTrigger(account_id, new.trigger.kind, new.as_of) for new in state.opened]
    return raised
