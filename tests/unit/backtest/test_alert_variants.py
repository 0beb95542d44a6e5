"""Alert-rule variants ride on one replay: each raises exactly what a replay with its cards raises, and a
kind alone in its budget family switched off removes exactly its own alerts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cache

import pytest

from bench.datasets.archetypes import generate
from services.health.backtest.alert_variants import ALONE_KINDS, Variant, variant_cards, variant_grid
from services.health.backtest.replay import AccountReplay, Scorecard, default_scorecards, replay_account
from shared.events import Envelope, parse_event

pytestmark = pytest.mark.unit

CARDS = default_scorecards()
ACCOUNTS = ("arch-s7-0002", "arch-s7-0003", "arch-s7-0004", "arch-s7-0012")
"""Between them: grade_red, usage_decline, champion_left and negative_feedback alerts, and one that a
shorter sustain alerts on while the rules in force do not."""
VARIANTS = (Variant(frozenset(), 3, 7), Variant(frozenset({"grade_red"}), None, 21))


@cache
def _book() -> dict[str, list[Envelope]]:
    by: dict[str, list[Envelope]] = defaultdict(list)
    for raw in generate(seed=7, accounts=16, months=9):
        e = parse_event(raw)
        if e.account_id in ACCOUNTS:
            by[e.account_id].append(e)
    return by


def _replay(account: str, cards: Mapping[str, Scorecard] = CARDS, variants: Sequence[Variant] = ()) -> AccountReplay:
    events = _book()[account]
    until = max(e.occurred_at for es in _book().values() for e in es)
    return replay_account(account, events, scorecards=cards, snapshots=[], until=until,
                          alert_variants=[variant_cards(CARDS, v) for v in variants])


def test_each_variant_raises_what_a_replay_with_its_cards_raises() -> None:
    grid = variant_grid(CARDS)
    assert all(v in grid for v in VARIANTS)
    differs = False
    for account in ACCOUNTS:
        replay = _replay(account, variants=(*VARIANTS, Variant(frozenset(), 7, 14)))
        assert replay.variant_alerts[-1] == replay.alerts, "the rules in force as a variant: the same alerts"
        for variant, raised in zip(VARIANTS, replay.variant_alerts, strict=False):
            assert raised == _replay(account, variant_cards(CARDS, variant)).alerts, (account, variant)
            differs |= raised != replay.alerts
    assert differs, "the variants change something on these accounts, or the test proves nothing"


def test_a_kind_alone_in_its_budget_family_switched_off_removes_exactly_its_own_alerts() -> None:
    quiet = {s: replace(c, alerts=replace(c.alerts, enabled=c.alerts.enabled - set(ALONE_KINDS)))
             for s, c in CARDS.items()}
    dropped = 0
    for account in ("arch-s7-0004", "arch-s7-0012"):
        full = _replay(account).alerts
        kept = tuple(a for a in full if a.kind not in ALONE_KINDS)
        dropped += len(full) - len(kept)
        assert _replay(account, quiet).alerts == kept
    assert dropped >= 2, "champion_left and negative_feedback alerts were there to drop"
