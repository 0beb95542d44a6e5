"""The hot path's shortcuts give what the plain computations give: usage windows in one pass, the
contract summary reused, weights filled in place, and the memos, which must not leak between
accounts, batches or a store round trip."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest

from bench.health import feed
from bench.health_digest import NOW, all_alerts, digest, replay, signal_events
from services.health.domain import (
    DEFAULT_SCORECARDS,
    NormsHistory,
    StoredAccount,
    apply_events,
    build_norms,
    contract_summary,
)
from services.health.domain import contracts as contracts_module
from services.health.domain.components import score_engagement, score_relationship, score_sentiment, score_support
from services.health.domain.measures import ScoringContext, _window_mask
from services.health.domain.scorecard import scorecard_for
from services.health.domain.scoring import combine, score_account
from services.health.domain.signals import AccountSignals
from services.health.domain.usage import WINDOW_DAYS, norm_sample, score_usage, usage_measures
from shared.days import day_number

pytestmark = pytest.mark.unit


def _usage_measures_rescanned(s: AccountSignals, a: int) -> tuple[object, ...]:
    """usage_measures as it was: every window and measure scanned on its own."""
    first_seen = s.first_seen_day if s.first_seen_day is not None else a
    recent_first = max(a - WINDOW_DAYS, first_seen)
    prior_known = a - 2 * WINDOW_DAYS >= first_seen

    def qty(first: int, last: int) -> dict[str, float]:
        out = {}
        for feature, days in sorted(s.feature_days.items()):
            total = math.fsum(q for d, q in days.items() if first <= d <= last)
            if total:
                out[feature] = total
        return out

    def active(first: int, last: int) -> int:
        return sum(1 for d, n in s.event_days.items() if first <= d <= last and n)

    def users(first: int, last: int) -> tuple[int, int]:
        if s.latest_day is None:
            return 0, 0
        window = _window_mask(s.latest_day, first, last)
        return (sum(1 for m in s.user_activity.values() if m & window),
                sum((m & window).bit_count() for m in s.user_activity.values()))

    prior = (a - 2 * WINDOW_DAYS, a - WINDOW_DAYS - 1)
    has_users = bool(s.user_activity)
    return (
        max(0, a - recent_first), active(recent_first, a - 1), active(*prior) if prior_known else None,
        sum(n for d, n in s.event_days.items() if recent_first <= d <= a - 1),
        qty(recent_first, a - 1), qty(*prior) if prior_known else {},
        users(recent_first, a - 1)[0] if has_users else None,
        users(*prior)[0] if has_users and prior_known else None,
        users(recent_first, a - 1)[1] / max(1, a - recent_first) if has_users else None,
        users(*prior)[1] / WINDOW_DAYS if has_users and prior_known else None,
        max(0, a - first_seen),
    )


def test_usage_windows_in_one_pass_are_the_rescanned_ones() -> None:
    rng = random.Random(5)
    for _ in range(300):
        latest = rng.randint(100, 200)
        first_seen = latest - rng.randint(0, 119)
        days = range(first_seen, latest + 1)
        signals = AccountSignals(
            latest_day=latest, first_seen_day=first_seen,
            user_activity={f"u{n}": rng.getrandbits(120) for n in range(rng.randint(0, 6))},
            event_days={d: rng.choice((0, 1, 3)) for d in rng.sample(days, min(len(days), rng.randint(0, 40)))},
            feature_days={f: {d: rng.choice((0.0, 0.1, 1.0, 2.5, 1e9)) for d in rng.sample(days, min(len(days), 25))}
                          for f in rng.sample(("api", "reports", "alerts", "export"), rng.randint(0, 4))},
        )
        for a in (first_seen, first_seen + 1, latest - 60, latest, latest + 1, latest + 45):
            m = usage_measures(signals, a)
            assert (m.days_counted, m.active_days, m.prior_active_days, m.events, m.qty, m.prior_qty, m.users,
                    m.prior_users, m.daily_users, m.prior_daily_users, m.age_days) == \
                _usage_measures_rescanned(signals, a)


def _final_signals(accounts: int) -> list[AccountSignals]:
    events = signal_events(feed(accounts, accounts * 10, now=NOW, prefix="hot"))
    by_account: dict[str, list[object]] = {}
    for account_id, event in events:
        by_account.setdefault(account_id, []).append(event)
    return [apply_events(AccountSignals(), group) for group in by_account.values()]  # type: ignore[arg-type]


def test_a_reused_contract_summary_is_the_one_made_afresh() -> None:
    signals = _final_signals(12)
    rng = random.Random(7)
    asked = [(rng.choice(signals), (NOW + timedelta(days=rng.randint(-260, 320))).date()) for _ in range(600)]
    # consecutive asks for one account and near days, as the points ask
    asked += [(signals[0], (NOW + timedelta(days=d)).date()) for d in range(-250, 320)]
    for s, on in asked:
        reused = contract_summary(s, on)
        contracts_module._LAST.clear()
        assert reused == contract_summary(s, on)


def test_weights_filled_in_place_are_the_copied_ones() -> None:
    for s in _final_signals(9):
        for days in (0, 12, 40):
            as_of = NOW + timedelta(days=days)
            contract = contract_summary(s, as_of.date())
            card = scorecard_for(contract.segment, DEFAULT_SCORECARDS)
            today = day_number(as_of)
            days_known = max(1, today - (s.first_seen_day or today) + 1)
            tenure = today - contract.first_start.toordinal() if contract.first_start else days_known - 1
            ctx = ScoringContext(today, days_known, max(0, tenure), contract, card.targets)
            components = [f(s, ctx) for f in
                          (score_usage, score_engagement, score_sentiment, score_support, score_relationship)]
            copied = combine(components, card, as_of=as_of, previous_grade="yellow")
            in_place = score_account(s, card, as_of=as_of, previous_grade="yellow")
            assert repr(in_place) == repr(copied)
            assert all(c.weight == 0.0 for c in components)  # combine left its inputs alone


def test_batching_and_the_store_round_trip_change_no_output() -> None:
    """Batches of one and of 1,000 in memory, and batches of 100 through the stored JSON, with norms and
    every alert kind: any memo that leaked between accounts, batches or objects would show here."""
    events = signal_events(feed(60, 600, now=NOW, prefix="hot"))
    final = [a for a in replay(events, scorecards=DEFAULT_SCORECARDS) if isinstance(a, StoredAccount)]
    norms = NormsHistory([build_norms(
        ((contract_summary(a.signals, NOW.date()).segment, norm_sample(a.signals, day_number(NOW))) for a in final),
        version=1, effective_from=NOW - timedelta(days=45))])
    cards = all_alerts(DEFAULT_SCORECARDS)
    until = NOW + timedelta(days=3)
    in_memory = digest(replay(events, scorecards=cards, norms=norms, until=until))
    assert digest(replay(events, batch=1, scorecards=cards, norms=norms, until=until)) == in_memory
    assert digest(replay(events, batch=100, scorecards=cards, norms=norms, stored=True, until=until)) == in_memory
    assert in_memory[1] > 600  # points were made (the feed crosses midnights)
