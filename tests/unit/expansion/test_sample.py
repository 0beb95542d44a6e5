"""The demo's sample (cli/sample.py) through the pure domain with the default catalogue
and thresholds: the at_seat_limit story is an upsell moment, the steady accounts are not."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pytest

from cli.sample import generate_sample, sample_accounts
from services.expansion.domain import ExpansionSignals, Thresholds, apply_events, evaluate_triggers, snapshot
from services.expansion.domain.decide import Decided, decide
from tests.unit.expansion.factories import default_catalogue, signal_events

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
ACCOUNTS = 16  # two of each story (at_seat_limit: one mid-market, one enterprise)


def _triggers_by_account() -> dict[str, set[str]]:
    by_account: dict[str, list[dict[str, object]]] = defaultdict(list)
    for event in generate_sample(NOW, accounts=ACCOUNTS):
        by_account[str(event["account_id"])].append(event)
    kinds = {}
    for account_id, events in by_account.items():
        signals = apply_events(ExpansionSignals(), signal_events(events))  # type: ignore[arg-type]
        assert signals.latest_at is not None
        snap = snapshot(account_id, signals, Thresholds(), as_of=signals.latest_at)
        kinds[account_id] = {t.kind for t in evaluate_triggers(snap, default_catalogue(), Thresholds())}
    return kinds


def test_at_seat_limit_accounts_trigger_and_steady_ones_do_not() -> None:
    kinds = _triggers_by_account()
    stories = {a.account_id: a.story for a in sample_accounts(ACCOUNTS)}
    seat_limit_accounts = [a for a, story in stories.items() if story == "at_seat_limit"]
    assert len(seat_limit_accounts) == 2
    for account_id in seat_limit_accounts:
        assert {"seat_limit", "premium_feature_use", "high_satisfaction"} <= kinds[account_id], account_id
    for account_id, story in stories.items():
        if story == "steady":
            assert kinds[account_id] == set(), account_id
    assert sum(len(k) for a, k in kinds.items() if stories[a] != "at_seat_limit") <= 2, "few elsewhere"


def _decided(account_ids: set[str]) -> dict[str, Decided]:
    """Each account's events folded through `decide` in event time, as the service does."""
    by_account: dict[str, list[dict[str, object]]] = defaultdict(list)
    for event in generate_sample(NOW):
        if event["account_id"] in account_ids:
            by_account[str(event["account_id"])].append(event)
    return {account_id: decide(Decided(ExpansionSignals()), account_id,
                               signal_events(events),  # type: ignore[arg-type]
                               catalogue=default_catalogue(), thresholds=Thresholds())
            for account_id, events in by_account.items()}


def test_the_upgrade_wins_the_open_seat_limit_and_planning_opportunities_and_the_others_stay_open() -> None:
    accounts = {a.account_id: a for a in sample_accounts()}
    upgraded = next(a for a in accounts.values() if a.contract_story == "upgraded")
    waiting = {a.account_id for a in accounts.values() if a.story == "at_seat_limit" and a is not upgraded}

    decided = _decided({upgraded.account_id, *waiting})

    won = {(c.kind, c.product) for c in decided[upgraded.account_id].closed if c.stage == "won"}
    assert {("seat_limit", "core"), ("premium_feature_use", "planning")} <= won
    assert all(c.closed_by == "contract" for c in decided[upgraded.account_id].closed if c.stage == "won")
    for account_id in waiting:
        latest = decided[account_id].latest
        assert latest["seat_limit", "core"].stage == "open", "grown into the limit lately: not expired yet"
