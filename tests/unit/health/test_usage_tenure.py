"""A young customer is not yet proven: the same usage reads lower in its first months than later
(DOMAIN.md: young accounts churn most, and "new, so not judged yet" hides exactly them)."""

from __future__ import annotations

import pytest

from services.health.domain import DEFAULT_SCORECARDS, HealthScore, score_account
from services.health.domain.measures import Part
from tests.unit.health.factories import History, at

pytestmark = pytest.mark.unit

SMB = DEFAULT_SCORECARDS["smb"]


def _customer(*, contract_start: int) -> History:
    """Usage from day 100 to 129 (all five seats' users on weekdays); the contract began on `contract_start`."""
    h = History()
    h.contract(100, seats=5, start=contract_start, end=contract_start + 720, segment="smb")
    for day in range(100, 130):
        if day % 7 < 5:
            for user in range(5):
                h.usage(day + 0.5, f"u-{user}")
    return h


def _score(h: History) -> HealthScore:
    return score_account(h.signals(), SMB, as_of=at(130.5), previous_grade=None)


def _tenure(score: HealthScore) -> Part:
    return next(p for p in score.components["usage"].parts if p.name == "tenure")


def test_a_customer_of_thirty_days_reads_below_one_with_the_same_usage_and_a_year_behind_it() -> None:
    young = _score(_customer(contract_start=100))
    proven = _score(_customer(contract_start=-300))
    assert _tenure(young).score is not None and _tenure(young).score < 50
    assert _tenure(young).detail == "a customer for 30 days (proven from 90 days on)"
    young_usage, proven_usage = young.components["usage"].score, proven.components["usage"].score
    assert young_usage is not None and proven_usage is not None
    assert young_usage < proven_usage
    assert young.total < proven.total


def test_tenure_counts_from_the_contract_not_from_the_first_event_seen() -> None:
    # Events began arriving on day 100, but the customer signed 430 days before the score: not young, and
    # the part is left out rather than scored 100, so an established account reads what its usage says.
    proven = _score(_customer(contract_start=-300))
    assert _tenure(proven).score is None
    assert proven.components["usage"].facts["tenure_days"] == 430


def test_without_a_contract_the_customer_s_age_is_unknown_not_young() -> None:
    h = History()
    for day in range(100, 110):
        h.usage(day + 0.5, "u-1")
    score = score_account(h.signals(), SMB, as_of=at(110.5), previous_grade=None)
    assert _tenure(score).score is None
