"""What happened to an account, from its contract events alone: when it was a customer, when it
churned, and when its revenue contracted or expanded.

The contract's rules (CONTRACT.md, "contract.*"): a contract keeps its id for life; `signed` opens it,
`renewed` starts its next term, `amended` changes the current term, `cancelled` ends it at its
`end_date`, which is churn unless another contract of the account continues.

* Coverage: the union over all contracts of each term's [start_date, end_date), a term cut short by
  a cancellation recorded after it (a term recorded after a cancellation supersedes it). Gaps of up to
  `GRACE_DAYS` are closed: a renewal booked a few days late is not a churn.
* Churn: the end of a coverage interval, on or before the horizon. A cancellation makes it certain;
  a term that simply ran out ("not renewed") is only confirmed `GRACE_DAYS` after its end, since a
  late renewal may still come.
* Contraction / expansion: a term of a contract with lower (higher) ARR or seats than the term of
  the same contract before it, dated at the new term's start (renewal) or when recorded (amendment).
  ARR is compared only within one currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal

from shared.events import ContractCancelled, ContractTerms, Envelope

GRACE_DAYS = 7

ChangeKind = Literal["contraction", "expansion"]


@dataclass(frozen=True, slots=True)
class Coverage:
    start: date
    stop: date | None
    """The first day without service; None while service continues past the horizon."""
    noticed_at: datetime | None = None
    """When the cancellation that set `stop` was recorded (None for a term that ran out)."""
    confirmed: bool = True
    """False for a term that ran out within GRACE_DAYS of the horizon: a renewal may still come."""


@dataclass(frozen=True, slots=True)
class RevenueChange:
    on: date
    kind: ChangeKind
    contract_id: str
    arr_before: Decimal
    arr_after: Decimal
    seats_before: int
    seats_after: int


@dataclass(frozen=True, slots=True)
class AccountOutcomes:
    account_id: str
    segment: str | None
    coverage: tuple[Coverage, ...]
    changes: tuple[RevenueChange, ...] = ()
    term_ends: tuple[date, ...] = ()
    """Every term's end date as booked (renewal dates), for snapshots taken before renewals."""

    @property
    def first_start(self) -> date | None:
        return self.coverage[0].start if self.coverage else None

    @property
    def churn_dates(self) -> tuple[date, ...]:
        return tuple(c.stop for c in self.coverage if c.stop is not None and c.confirmed)

    def active_at(self, moment: datetime) -> bool:
        """A customer at `moment` with no cancellation already recorded for the service it is on
        (an account that has given notice is not a prediction any more)."""
        day = moment.astimezone(UTC).date()
        for c in self.coverage:
            if c.start <= day and (c.stop is None or day < c.stop):
                return c.noticed_at is None or c.noticed_at > moment
        return False

    def last_active_day(self) -> date | None:
        """The last day of service known (None while service continues past the horizon)."""
        if not self.coverage or self.coverage[-1].stop is None:
            return None
        return self.coverage[-1].stop

    def churn_between(self, after: date, until: date) -> date | None:
        """The first confirmed churn in (after, until]."""
        return next((d for d in self.churn_dates if after < d <= until), None)

    def unconfirmed_between(self, after: date, until: date) -> bool:
        return any(c.stop is not None and not c.confirmed and after < c.stop <= until for c in self.coverage)

    def change_between(self, kind: ChangeKind, after: date, until: date) -> RevenueChange | None:
        return next((c for c in self.changes if c.kind == kind and after < c.on <= until), None)


@dataclass(frozen=True, slots=True)
class _Term:
    key: tuple[datetime, str]
    kind: str
    contract_id: str
    start: date
    end: date
    arr: Decimal
    currency: str
    seats: int


@dataclass(frozen=True, slots=True)
class _Cancel:
    key: tuple[datetime, str]
    contract_id: str
    end: date


def label_outcomes(account_id: str, events: Iterable[Envelope], *, horizon: date) -> AccountOutcomes:
    """Outcomes of one account from its events (non-contract events are ignored), as known at `horizon`."""
    terms: list[_Term] = []
    cancels: list[_Cancel] = []
    segments: list[tuple[tuple[datetime, str], str]] = []
    for e in events:
        key = (e.occurred_at, e.event_id)
        if isinstance(e.data, ContractTerms):
            d = e.data
            terms.append(_Term(key, e.type, d.contract_id, d.start_date, d.end_date, d.arr, d.currency, d.seats))
        elif isinstance(e.data, ContractCancelled):
            cancels.append(_Cancel(key, e.data.contract_id, e.data.end_date))
        else:
            continue
        if e.data.segment:
            segments.append((key, e.data.segment))
    terms.sort(key=lambda t: t.key)
    return AccountOutcomes(
        account_id=account_id,
        segment=max(segments)[1] if segments else None,
        coverage=tuple(_coverage(terms, cancels, horizon)),
        changes=tuple(sorted(_changes(terms), key=lambda c: (c.on, c.contract_id))),
        term_ends=tuple(sorted({t.end for t in terms})),
    )


def _coverage(terms: Sequence[_Term], cancels: Sequence[_Cancel], horizon: date) -> list[Coverage]:
    spans: list[tuple[date, date, datetime | None]] = []
    for term in terms:
        stop, noticed = term.end, None
        for cancel in cancels:
            if cancel.contract_id == term.contract_id and cancel.key > term.key and cancel.end <= stop:
                stop, noticed = cancel.end, cancel.key[0]
        if stop > term.start:
            spans.append((term.start, stop, noticed))
    spans.sort(key=lambda s: (s[0], s[1]))
    merged: list[tuple[date, date, datetime | None]] = []
    for start, stop, noticed in spans:
        if merged and start <= merged[-1][1] + timedelta(days=GRACE_DAYS):
            kept_start, kept_stop, _ = merged[-1]
            if stop > kept_stop:
                merged[-1] = (kept_start, stop, noticed)
            elif stop == kept_stop and noticed is None:
                merged[-1] = (kept_start, kept_stop, None)  # another contract runs to that day, no notice
            continue
        merged.append((start, stop, noticed))
    out = []
    for start, stop, noticed in merged:
        if noticed is None and stop > horizon:
            out.append(Coverage(start, None))
        else:
            confirmed = noticed is not None or stop + timedelta(days=GRACE_DAYS) <= horizon
            out.append(Coverage(start, stop, noticed, confirmed))
    return out


def _changes(terms: Sequence[_Term]) -> Iterable[RevenueChange]:
    previous: dict[str, _Term] = {}
    for term in terms:
        before = previous.get(term.contract_id)
        previous[term.contract_id] = term
        if before is None:
            continue
        same_currency = before.currency == term.currency
        arr_down = same_currency and term.arr < before.arr
        arr_up = same_currency and term.arr > before.arr
        kind: ChangeKind | None = None
        if arr_down or term.seats < before.seats:
            kind = "contraction"
        elif arr_up or term.seats > before.seats:
            kind = "expansion"
        if kind is None:
            continue
        on = term.start if term.kind == "contract.renewed" else term.key[0].astimezone(UTC).date()
        yield RevenueChange(on, kind, term.contract_id, before.arr, term.arr, before.seats, term.seats)


def end_of_day(day: date) -> datetime:
    """The last second of `day` in UTC: where a snapshot "on" a day is taken."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
