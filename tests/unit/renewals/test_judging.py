"""Judging at points in event time: the scheduled pass moves a silent account through its windows;
judging at the calendar's change days equals judging every midnight; where batches end, when the
pass runs and a stop in between (the book stored as JSON) change nothing that is emitted."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

import pytest

from services.renewals.domain import (
    AccountBook,
    Judged,
    JudgingRules,
    advance,
    apply_contract_events,
    apply_health,
    book_from_json,
    book_to_json,
    judge,
    judge_event,
    last_midnight,
    midnight,
    next_due,
)
from shared.contracts import ContractEvent
from shared.health_reading import HealthReading
from tests.unit.renewals.factories import at, contract_event, health, terms

pytestmark = pytest.mark.unit

RULES = JudgingRules()
SIGNED = contract_event("signed", terms("c1", end="2026-12-31"), on="2025-12-20")
Event = tuple[datetime, Callable[[AccountBook], AccountBook]]


def _contract(event: ContractEvent) -> Event:
    return event.occurred_at, lambda book: apply_contract_events(book, [event])


def _health(record: HealthReading) -> Event:
    return record.at, lambda book: apply_health(book, record)


def _events(judged: Judged, events: Iterable[Event]) -> Judged:
    for when, change in events:
        judged = judge_event(judged, "acc", at=when, apply=change, rules=RULES)
    return judged


def _ids(judged: Judged) -> list[tuple[str, str, datetime]]:
    return [(d.action, d.event_id, d.at) for d in judged.decisions]


def test_a_stable_red_account_is_raised_when_its_window_opens_with_no_event() -> None:
    judged = _events(Judged(AccountBook()), [_contract(SIGNED), _health(health("red", 40, on="2026-06-01"))])
    assert judged.decisions == (), "five months before the date: outside the window"
    book = judged.book
    assert next_due(book, rules=RULES) == date(2026, 7, 2), "the red record becomes the trend's reference"

    before = advance(book, "acc", until=midnight(date(2026, 9, 1)), rules=RULES)
    assert before.decisions == () and next_due(before.book, rules=RULES) == date(2026, 9, 2)
    opened = advance(before.book, "acc", until=midnight(date(2026, 9, 2)), rules=RULES)
    (raised,) = opened.decisions
    assert (raised.action, raised.severity, raised.days_to_renewal) == ("raised", "high", 120)
    assert raised.at == midnight(date(2026, 9, 2)) and raised.health.score == 40
    assert advance(opened.book, "acc", until=midnight(date(2026, 9, 2)), rules=RULES).decisions == (), "once"

    later = advance(opened.book, "acc", until=midnight(date(2027, 1, 5)), rules=RULES)
    assert [(d.action, d.days_to_renewal, d.severity) for d in later.decisions] == [
        ("reminded", 90, "high"), ("reminded", 60, "high"), ("escalated", 30, "critical"),
        ("resolved", -1, "critical")]
    assert next_due(later.book, rules=RULES) is None, "nothing left to wait for"


def test_a_green_account_entering_its_window_raises_nothing() -> None:
    judged = _events(Judged(AccountBook()), [_contract(SIGNED), _health(health("green", 85, on="2026-06-01"))])
    assert advance(judged.book, "acc", until=midnight(date(2027, 3, 1)), rules=RULES).decisions == ()


def test_an_account_never_judged_is_judged_at_the_pass_midnight() -> None:
    book = apply_health(apply_contract_events(AccountBook(), [SIGNED]), health("red", 40, on="2026-06-01"))
    (raised,) = advance(book, "acc", until=midnight(date(2026, 10, 2)), rules=RULES).decisions
    assert raised.at == midnight(date(2026, 10, 2)) and raised.state.reminded == 90


YEAR: list[Event] = [
    _contract(SIGNED),
    _health(health("yellow", 60, on="2026-03-10")),
    _health(health("red", 50, on="2026-08-20", previous=60)),
    _health(health("red", 20, on="2026-09-15", previous=50)),
    _health(health("yellow", 70, on="2026-10-20", previous=20)),
    _health(health("red", 30, on="2026-11-05", previous=70)),
    _contract(contract_event("amended", terms("c1", arr="9000", end="2026-12-31", auto_renew=True), on="2026-12-01")),
    _contract(contract_event("renewed", terms("c1", start="2027-01-01", end="2027-12-31"), on="2027-01-03")),
    _health(health("red", 20, on="2027-05-01", previous=30)),
]
UNTIL = midnight(date(2028, 2, 1))


def _every_midnight(judged: Judged, until: datetime) -> Judged:
    assert judged.book.judged_at is not None
    day = judged.book.judged_at.date() + timedelta(days=1)
    while midnight(day) <= until:
        judged = judged.then(judge(judged.book, "acc", at=midnight(day), rules=RULES))
        day += timedelta(days=1)
    return judged


def test_judging_at_change_days_equals_judging_every_midnight() -> None:
    sparse = advance(_events(Judged(AccountBook()), YEAR).book, "acc", until=UNTIL, rules=RULES)
    sparse = _events(Judged(AccountBook()), YEAR).then(sparse)
    dense = Judged(AccountBook())
    for when, change in YEAR:
        if dense.book.judged_at is not None:
            dense = _every_midnight(dense, midnight(when.date()))
        dense = dense.then(judge(change(dense.book), "acc", at=when, rules=RULES))
    dense = _every_midnight(dense, UNTIL)
    assert _ids(sparse) == _ids(dense)
    assert sparse.book.alerts == dense.book.alerts
    assert {d.action for d in sparse.decisions} == {"raised", "escalated", "reminded", "resolved"}


@pytest.mark.parametrize("cuts", [(), (1,), (2, 5), (1, 2, 3, 4, 5, 6, 7, 8)])
@pytest.mark.parametrize("pass_every_days", [None, 1, 7, 40])
def test_batch_boundaries_and_pass_timing_change_nothing_emitted(cuts: tuple[int, ...],
                                                                 pass_every_days: int | None) -> None:
    expected = _events(Judged(AccountBook()), YEAR)
    expected = expected.then(advance(expected.book, "acc", until=UNTIL, rules=RULES))

    judged = Judged(AccountBook())
    for start, end in zip((0, *cuts), (*cuts, len(YEAR)), strict=True):
        batch = YEAR[start:end]
        judged = Judged(book_from_json(book_to_json(judged.book)), judged.decisions)  # stored between batches
        judged = _events(judged, batch)
        if pass_every_days and end < len(YEAR) and judged.book.judged_at is not None:
            # The scheduled pass runs (any number of times) before the next batch, never past its events.
            day = judged.book.judged_at.date()
            while midnight(day) <= YEAR[end][0]:
                judged = judged.then(advance(judged.book, "acc", until=midnight(day), rules=RULES))
                day += timedelta(days=pass_every_days)
    judged = judged.then(advance(judged.book, "acc", until=UNTIL, rules=RULES))
    assert _ids(judged) == _ids(expected)


def test_a_late_event_is_judged_at_the_last_point_and_the_past_is_not_rejudged() -> None:
    judged = _events(Judged(AccountBook()), [_contract(SIGNED), _health(health("green", 85, on="2026-09-20"))])
    late = _events(judged, [_health(health("red", 40, on="2026-09-10"))])
    assert late.book.judged_at == at("2026-09-20")
    assert late.decisions == (), "the green record of 09-20 is the one in force at the last point"


def test_a_closed_renewal_keeps_the_band_it_was_last_judged_at_while_open() -> None:
    judged = _events(Judged(AccountBook()), [_contract(SIGNED), _health(health("red", 40, on="2026-11-01"))])
    renewed = contract_event("renewed", terms("c1", start="2027-01-01", end="2027-12-31"), on="2026-12-20")
    judged = _events(judged, [_contract(renewed), _health(health("green", 90, on="2027-01-10"))])
    first, second = judged.book.renewals("acc", at=at("2027-01-10"))
    assert (first.outcome, first.risk.band) == ("renewed", "critical"), "critical at 11 days to go"
    assert "when last judged open" in first.risk.reasons[0].detail
    assert (second.outcome, second.risk.band) == (None, "low")


def test_the_last_midnight_waits_out_the_grace() -> None:
    now = datetime.fromisoformat("2026-09-02T00:10:00+00:00")
    assert last_midnight(now, grace=timedelta(minutes=15)) == midnight(date(2026, 9, 1))
    assert last_midnight(now, grace=timedelta(minutes=5)) == midnight(date(2026, 9, 2))
