"""Healthy adoption where active users cannot be counted (aggregate telemetry without user ids, or no
seats): unknown is not zero, so usage volume against its own baseline stands in. high_satisfaction
and the whitespace fit read it; these are the cases that must fire and those that must not."""

from __future__ import annotations

import orjson
import pytest

from services.expansion.domain import Thresholds, evaluate_triggers
from services.expansion.domain.codec import signals_from_json, signals_to_json
from services.expansion.domain.rules import high_satisfaction
from services.expansion.domain.whitespace import whitespace
from tests.unit.expansion.factories import Story, default_catalogue, fold, snap_of

pytestmark = pytest.mark.unit
CATALOGUE = default_catalogue()
T = Thresholds()


def _promoter_on_daily_counts(recent: float, *, seats: int = 20, nps: int = 10) -> Story:
    """Daily roll-ups (no user ids) of 100 a day for 60 days, then `recent` a day for 30, and an NPS
    answer on day 85: a promoter whose usage volume holds (recent >= 100) or falls."""
    story = Story("acct-agg")
    story.contract(0, seats=seats, products=("core",))
    for day in range(1, 91):
        story.add(day + 0.5, "usage.recorded", {"feature": "reports", "quantity": 100.0 if day <= 60 else recent})
    story.survey(85, "nps", nps)
    story.add(91.2, "usage.recorded", {"feature": "reports", "quantity": 1})  # day 91: the windows close
    return story


def test_a_promoter_without_user_ids_whose_usage_holds_is_a_growth_signal() -> None:
    snap = snap_of(_promoter_on_daily_counts(110.0))
    assert not snap.adoption_counted and snap.active_users == 0
    [trigger] = high_satisfaction(snap, CATALOGUE, T)
    assert trigger.kind == "high_satisfaction" and trigger.product == "analytics"
    assert trigger.reason.startswith("NPS 10 on 2026-08-25 and usage x1.10 against its previous 60 days "
                                     "(no user ids to count active users against)")
    assert trigger.confidence == pytest.approx(0.4 + 0.3 * 1.0 + 0.3 * 0.5)  # adoption part unknown: 0.5
    assert "high_satisfaction" in [t.kind for t in evaluate_triggers(snap, CATALOGUE, T)]


@pytest.mark.parametrize("recent", [90.0, 50.0])
def test_a_promoter_without_user_ids_whose_usage_falls_is_not(recent: float) -> None:
    assert high_satisfaction(snap_of(_promoter_on_daily_counts(recent)), CATALOGUE, T) == []


def test_no_baseline_yet_tells_nothing_about_adoption() -> None:
    story = Story("acct-new")
    story.contract(0, seats=20)
    for day in range(1, 11):
        story.add(day + 0.5, "usage.recorded", {"feature": "reports", "quantity": 100.0})
    story.survey(10, "nps", 10)
    assert high_satisfaction(snap_of(story), CATALOGUE, T) == []


def test_a_detractor_or_an_account_without_seats_is_not() -> None:
    assert high_satisfaction(snap_of(_promoter_on_daily_counts(110.0, nps=6)), CATALOGUE, T) == []
    # usage-priced, no seats: the whitespace uplift (price x seats) would be nothing
    assert high_satisfaction(snap_of(_promoter_on_daily_counts(110.0, seats=0)), CATALOGUE, T) == []


def test_counted_adoption_still_decides_where_user_ids_are_sent() -> None:
    """2 of 20 seats active: usage volume holding does not stand in for users that can be counted."""
    story = Story("acct-users")
    story.contract(0, seats=20)
    for day in range(1, 91):
        for user in ("u0", "u1"):
            story.add(day + 0.5, "usage.recorded", {"user_id": user, "feature": "reports", "quantity": 50.0})
    story.survey(85, "nps", 10)
    story.add(91.2, "usage.recorded", {"user_id": "u0", "feature": "reports", "quantity": 1})
    snap = snap_of(story)
    assert snap.adoption_counted and snap.usage_growth is not None and snap.usage_growth >= 1
    assert high_satisfaction(snap, CATALOGUE, T) == []


def test_whitespace_fit_counts_usage_holding_as_adoption_without_user_ids() -> None:
    holding = {f.product.product_id: f for f in whitespace(snap_of(_promoter_on_daily_counts(110.0)), CATALOGUE, T)}
    falling = {f.product.product_id: f for f in whitespace(snap_of(_promoter_on_daily_counts(50.0)), CATALOGUE, T)}
    assert holding["analytics"].fit == pytest.approx(0.8) and falling["analytics"].fit == pytest.approx(0.5)
    assert any(r.startswith("healthy adoption: usage x1.10") for r in holding["analytics"].reasons)


def test_whether_user_ids_were_reported_survives_storage_and_older_stored_state() -> None:
    signals = fold(_promoter_on_daily_counts(110.0))
    assert signals.users_reported is False
    assert signals_from_json(orjson.loads(orjson.dumps(signals_to_json(signals)))) == signals
    per_user = Story("acct-u")
    per_user.contract(0)
    per_user.usage(1, 3, 2)
    stored = signals_to_json(fold(per_user))
    assert stored["users_reported"] is True
    del stored["users_reported"]  # written before the flag existed: users held means ids were sent
    assert signals_from_json(stored).users_reported is True
