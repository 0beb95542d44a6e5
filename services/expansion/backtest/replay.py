"""Replaying one account's history through the pure expansion domain, as the service would decide
it event by event (`domain.decide`), with cohort norms rebuilt at every UTC midnight from every
account's state at that moment (two passes: `growth_by_day` for all accounts, then `replay_account`).

Opportunities need people to close them; a replay has none, so it stands in for them the way
issue 11 describes the service doing it: an open opportunity is closed as won when the account's
seats or ARR go up, and expires `expire_days` after it opened otherwise. Then the usual cool-down
(`Thresholds.cooldown_days`) applies before the same (kind, product) can trigger again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

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
    build_norms,
    cohort_key,
    decide,
)
from services.expansion.domain.signals import day_number
from services.expansion.domain.usage import account_growth, feature_growth
from shared.events import Envelope

EXPIRE_DAYS = 90

GrowthRecord = tuple[int, str, float]
"""(UTC day ordinal, cohort key, growth ratio): one account's standing at the start of a day."""


def signal_events(events: Sequence[Envelope]) -> list[SignalEvent]:
    return [SignalEvent(e.event_id, e.type, e.occurred_at, e.data.model_dump()) for e in events]


def growth_by_day(events: Sequence[SignalEvent], *, thresholds: Thresholds, last_day: int) -> Iterator[GrowthRecord]:
    """For each day from the account's second day to `last_day`, its growth as of that day's start
    (whole days before it), while it holds a live contract and has a baseline."""
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
        as_of = datetime.fromordinal(day).replace(tzinfo=events[0].occurred_at.tzinfo)
        if not signals.live_contracts(as_of):
            continue
        growth = account_growth(feature_growth(signals.volumes, as_of_day=day,
                                               min_baseline_days=thresholds.usage_growth_min_baseline_days))
        if growth is not None:
            yield day, cohort_key(signals.segment_name, signals.owned_products(as_of)), growth


def norms_by_day(records: Sequence[GrowthRecord]) -> dict[int, CohortNorms]:
    days: dict[int, list[tuple[str, float]]] = {}
    for day, key, growth in records:
        days.setdefault(day, []).append((key, growth))
    return {day: build_norms(values) for day, values in days.items()}


def replay_account(account_id: str, events: Sequence[SignalEvent], *, catalogue: Catalogue, thresholds: Thresholds,
                   norms: Mapping[int, CohortNorms], expire_days: int = EXPIRE_DAYS) -> list[RaisedTrigger]:
    """Every upsell trigger the service would have raised for this account, in event time."""
    state = Decided(ExpansionSignals())
    opened_at: dict[tuple[str, str], datetime] = {}
    raised: list[RaisedTrigger] = []
    for event in events:
        now = max(event.occurred_at, state.signals.latest_at or event.occurred_at)
        before = _size(state.signals, now)
        state = _expire(state, opened_at, now, timedelta(days=expire_days))
        state = decide(Decided(state.signals, state.latest), account_id, [event], catalogue=catalogue,
                       thresholds=thresholds, norms=norms.get(day_number(now), NO_NORMS))
        for new in state.opened:
            opened_at[new.trigger.kind, new.trigger.product] = new.as_of
            raised.append(RaisedTrigger(account_id, new.trigger.kind, new.as_of))
        if event.event_type.startswith("contract.") and _grew(before, _size(state.signals, now)):
            state = _close_open(state, now, stage="won")
    return raised


def _size(signals: ExpansionSignals, at: datetime) -> tuple[int, Decimal]:
    live = signals.live_contracts(at)
    return sum(c.seats for c in live), sum((c.arr for c in live), Decimal(0))


def _grew(before: tuple[int, Decimal], after: tuple[int, Decimal]) -> bool:
    return after[0] > before[0] or after[1] > before[1]


def _expire(state: Decided, opened_at: Mapping[tuple[str, str], datetime], now: datetime,
            expire: timedelta) -> Decided:
    latest = dict(state.latest)
    for key, episode in state.latest.items():
        if episode.closed_at is None and opened_at[key] + expire <= now:
            latest[key] = replace(episode, stage="lost", closed_at=opened_at[key] + expire)
    return replace(state, latest=latest)


def _close_open(state: Decided, now: datetime, *, stage: str) -> Decided:
    return replace(state, latest={key: replace(e, stage=stage, closed_at=now) if e.closed_at is None else e
                                  for key, e in state.latest.items()})
