"""The demo's sample (cli/sample.py) through renewals' pure domain: its contract stories
move retention in the last completed quarter (a downgrade is contraction, a renewal on a higher plan
is expansion, a flat renewal neither), each currency on its own, and its cancellations churn the
renewal they end."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cli.sample import generate_sample, last_quarter_day, sample_accounts
from services.renewals.domain.retention import AccountSpan, retention
from shared.contracts import ContractEvent, arr_spans, contract_event, fold_contract
from shared.periods import quarter_of

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _contracts(now: datetime, days: int = 120) -> dict[str, list[ContractEvent]]:
    by_account: dict[str, list[ContractEvent]] = defaultdict(list)
    for e in generate_sample(now, days=days):
        if e["type"].startswith("contract."):
            by_account[e["account_id"]].append(contract_event(
                event_id=e["event_id"], event_type=e["type"], occurred_at=datetime.fromisoformat(e["occurred_at"]),
                data=e["data"]))
    return by_account


def _spans(now: datetime, days: int = 120) -> list[AccountSpan]:
    return [AccountSpan(account, span.currency, span.arr, span.valid_from, span.valid_to)
            for account, events in _contracts(now, days).items()
            for span in arr_spans(fold_contract(f"ct-{account}", events))]


def test_the_last_completed_quarter_shows_contraction_and_expansion_per_currency() -> None:
    last = quarter_of(quarter_of(NOW.date()).start - timedelta(days=1))

    result = retention(last, _spans(NOW))

    eur, gbp, usd = (result.by_currency[c] for c in ("EUR", "GBP", "USD"))
    assert eur.contraction_arr > 0 and eur.grr is not None and eur.grr < 1, "the euro downgrade"
    assert gbp.expansion_arr > 0 and gbp.nrr is not None and gbp.nrr > 1 and gbp.grr == 1, "a higher plan"
    assert usd.contraction_arr > 0 and usd.expansion_arr == 0 and usd.churned_arr == 0
    assert result.churned_accounts == 0, "the cancellations end at renewal dates still ahead"


def test_a_flat_renewal_keeps_its_arr_and_moves_the_renewal_a_year_on() -> None:
    flat = next(a for a in sample_accounts() if a.contract_story == "renewed_flat")
    contract = fold_contract(f"ct-{flat.account_id}", _contracts(NOW)[flat.account_id])

    first, second = contract.terms
    assert first.arr == second.arr == Decimal(flat.arr) and second.start_date == first.end_date + timedelta(days=1)
    assert quarter_of(second.start_date) == quarter_of(quarter_of(NOW.date()).start - timedelta(days=1))


def test_cancellations_fall_on_accounts_whose_health_story_is_bad_and_end_at_the_renewal() -> None:
    contracts = _contracts(NOW)
    cancelled = [a for a in sample_accounts() if a.contract_story == "cancelled"]

    assert {a.story for a in cancelled} <= {"gone_quiet", "usage_collapse"} and len(cancelled) == 2
    for account in cancelled:
        contract = fold_contract(f"ct-{account.account_id}", contracts[account.account_id])
        assert contract.status == "cancelled" and contract.cancel_reason
        assert contract.cancelled_on == (NOW + timedelta(days=account.renewal_in_days)).date()


@pytest.mark.parametrize("now", [datetime(2026, m, d, 6, tzinfo=UTC) for m, d in ((1, 1), (3, 31), (5, 17), (12, 31))])
@pytest.mark.parametrize("days", [120, 60])
def test_the_changes_meant_for_retention_fall_in_the_last_completed_quarter_whatever_the_day(
    now: datetime, days: int
) -> None:
    last = quarter_of(quarter_of(now.date()).start - timedelta(days=1))
    start = now - timedelta(days=days)

    for share in (0.0, 0.4, 0.6, 1.0):
        assert last.start <= last_quarter_day(now, start, share) < last.end
    by_currency = retention(last, _spans(now, days)).by_currency
    assert by_currency["EUR"].contraction_arr > 0 and by_currency["USD"].contraction_arr > 0
    assert by_currency["GBP"].expansion_arr > 0
