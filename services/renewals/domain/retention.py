"""Retention of a period, per DOMAIN.md, per currency (amounts in two currencies are never summed).

Starting accounts are those with ARR on the period's first day. For each starting account and
currency, S is its ARR on the first day and E its ARR on the first day after the period (all its
contracts: a contract that continues keeps the account; a cancellation is churn only when nothing
continues). E = 0: churned S; E < S: contraction S - E; E > S: expansion E - S (renewals and
amendments at a higher ARR, and cross-sell to the account). Accounts that start within the period
(new customers) count nowhere.

    GRR = (S - churned - contraction) / S        NRR = (S - churned - contraction + expansion) / S
    logo churn = starting accounts with no ARR left in any currency / starting accounts
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from shared.fx import ConsolidationBasis, consolidate
from shared.periods import Period

RATIO = Decimal("0.0001")
DEFINITIONS = (
    "Starting accounts: ARR on the period's first day; ending ARR: on the first day after it, of those "
    "accounts only (new customers do not count). Per account and currency: none left = churned, less = "
    "contraction, more = expansion. GRR = (S - churned - contraction) / S; NRR = (S - churned - contraction "
    "+ expansion) / S; logo churn = starting accounts with no ARR left / starting accounts. Per currency, "
    "never summed across currencies."
)


@dataclass(frozen=True)
class AccountSpan:
    account_id: str
    currency: str
    arr: Decimal
    valid_from: date
    valid_to: date

    def covers(self, day: date) -> bool:
        return self.valid_from <= day < self.valid_to




@dataclass(frozen=True, kw_only=True)
class ConsolidatedRetention:
    """Retention's money in one currency: a currency's own figures (`CurrencyRetention`), or every
    currency's converted with one exchange-rate table and summed, GRR and NRR of the whole book
    (`consolidated_retention`; the per-currency figures stay the source)."""

    currency: str
    starting_arr: Decimal
    churned_arr: Decimal
    contraction_arr: Decimal
    expansion_arr: Decimal
    ending_arr: Decimal
    grr: Decimal | None
    nrr: Decimal | None


@dataclass(frozen=True, kw_only=True)
class CurrencyRetention(ConsolidatedRetention):
    starting_accounts: int


@dataclass(frozen=True)
class Retention:
    period: Period
    starting_accounts: int
    churned_accounts: int
    logo_churn: Decimal | None
    by_currency: dict[str, CurrencyRetention]


def arr_on(spans: Iterable[AccountSpan], day: date) -> dict[tuple[str, str], Decimal]:
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for span in spans:
        if span.covers(day):
            totals[span.account_id, span.currency] += span.arr
    return {key: arr for key, arr in totals.items() if arr > 0}


def retention(period: Period, spans: Iterable[AccountSpan]) -> Retention:
    spans = list(spans)
    start, end = arr_on(spans, period.start), arr_on(spans, period.end)
    starting = {account for account, _ in start}
    left = {account for account, _ in end}
    by_currency: dict[str, CurrencyRetention] = {}
    for currency in sorted({c for _, c in start}):
        s = churned = contraction = expansion = ending = Decimal(0)
        accounts = 0
        for (account, cur), starting_arr in start.items():
            if cur != currency:
                continue
            accounts += 1
            ending_arr = end.get((account, cur), Decimal(0))
            s += starting_arr
            ending += ending_arr
            if ending_arr == 0:
                churned += starting_arr
            elif ending_arr < starting_arr:
                contraction += starting_arr - ending_arr
            else:
                expansion += ending_arr - starting_arr
        by_currency[currency] = CurrencyRetention(
            currency=currency, starting_accounts=accounts, starting_arr=s, churned_arr=churned,
            contraction_arr=contraction, expansion_arr=expansion, ending_arr=ending,
            grr=_ratio(s - churned - contraction, s), nrr=_ratio(s - churned - contraction + expansion, s),
        )
    lost = len(starting - left)
    return Retention(period, len(starting), lost, _ratio(Decimal(lost), Decimal(len(starting))), by_currency)


def _ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    return (part / whole).quantize(RATIO) if whole else None




def consolidated_retention(by_currency: Mapping[str, CurrencyRetention], consolidation: ConsolidationBasis
                           ) -> ConsolidatedRetention | None:
    """None when the basis cannot consolidate (no table, or a currency without a rate)."""
    if consolidation.currency is None:
        return None
    sums = {}
    for name in ("starting_arr", "churned_arr", "contraction_arr", "expansion_arr", "ending_arr"):
        total = consolidate({c: getattr(r, name) for c, r in by_currency.items()}, consolidation)
        if total is None:
            return None
        sums[name] = total
    s, lost = sums["starting_arr"], sums["churned_arr"] + sums["contraction_arr"]
    return ConsolidatedRetention(currency=consolidation.currency, **sums, grr=_ratio(s - lost, s),
                                 nrr=_ratio(s - lost + sums["expansion_arr"], s))
