"""Explanations: the human sentence with the numbers, evidence, order."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.health.domain import DEFAULT_SCORECARDS, explain_change, score_account, top_reasons
from tests.unit.health.factories import at, healthy_account

pytestmark = pytest.mark.unit

ENTERPRISE = DEFAULT_SCORECARDS["enterprise"]


def test_usage_collapse_is_explained_in_words_with_the_numbers() -> None:
    h = healthy_account(days=90, users=48)
    collapse = h.active_users
    collapse(91, 125, 12)
    h.customer_success(91, 125)
    before = score_account(h.signals(91), ENTERPRISE, as_of=at(91), previous_grade="green")
    after = score_account(h.signals(121.9), ENTERPRISE, as_of=at(121.9), previous_grade="green")
    reasons = explain_change(before, after)
    assert reasons[0].component == "usage" and reasons[0].delta == 0.0  # the forcing measure leads
    assert "forces red" in reasons[0].detail
    usage = reasons[1]
    assert usage.component == "usage" and usage.delta < -10
    assert "users active on an average day fell from 15.6 to 4.0 of 60 seats" in usage.detail
    assert usage.evidence_event_ids  # the usage events and the contract behind the seats
    deltas = [abs(r.delta) for r in reasons[1:]]
    assert deltas == sorted(deltas, reverse=True)


def test_champion_and_urgent_tickets_are_explained() -> None:
    h = healthy_account(days=60)
    before = score_account(h.signals(47), ENTERPRISE, as_of=at(47), previous_grade="green")
    left = h.contact(48, "c-0", "champion", "left")
    first = h.ticket(52, "t-9", "urgent")
    h.ticket(55, "t-10", "urgent")
    after = score_account(h.signals(61.5), ENTERPRISE, as_of=at(61.5), previous_grade="green")
    reasons = explain_change(before, after)
    details = " | ".join(r.detail for r in reasons)
    assert "champion Jane (c-0) left 13 days ago and no replacement has joined" in details
    assert "2 urgent tickets open, oldest for 9 days" in details
    relationship = next(r for r in reasons if r.component == "relationship")
    assert left in relationship.evidence_event_ids and relationship.delta < 0
    support = next(r for r in reasons if r.component == "support" and "oldest" in r.detail)
    assert first in support.evidence_event_ids


def test_top_reasons_name_the_main_drivers_of_the_current_score() -> None:
    h = healthy_account(days=60)
    h.ticket(58, "t-1", "urgent")
    h.survey(59, "nps", 2)
    score = score_account(h.signals(60), ENTERPRISE, as_of=at(60), previous_grade=None)
    reasons = top_reasons(score, limit=3)
    assert len(reasons) == 3
    assert all(r.delta < 0 for r in reasons)  # weak parts come before any strength
    assert [r.delta for r in reasons] == sorted(r.delta for r in reasons)
    assert any(r.detail == "latest NPS 2 (detractor), answered yesterday" for r in reasons)
    assert explain_change(None, score) == top_reasons(score)


def test_a_healthy_account_is_explained_by_its_strengths() -> None:
    score = score_account(healthy_account(days=60).signals(), ENTERPRISE, as_of=at(60.9), previous_grade=None)
    reasons = top_reasons(score)
    assert len(reasons) == 5 and sum(1 for r in reasons if r.delta > 0) >= 4
    assert reasons[1].detail == "no champion or executive sponsor left without a replacement"
    assert reasons[1].delta == 15.0  # 60% of relationship, which is 25% of the enterprise total


def test_a_scorecard_change_is_told_apart_from_a_customer_change() -> None:
    signals = healthy_account(days=60).signals()
    old = score_account(signals, ENTERPRISE, as_of=at(60.9), previous_grade=None)
    card = replace(ENTERPRISE, version=2, weights={**ENTERPRISE.weights, "usage": 60})
    new = score_account(signals, card, as_of=at(60.9), previous_grade=None)
    reasons = explain_change(old, new)
    assert reasons[-1].component == "scorecard"
    assert reasons[-1].detail == "scored with the enterprise scorecard version 2 (was enterprise version 1)"
