"""Folding one account's events: event-time order, one rejected event dead-lettered (not the batch),
and a bug never mistaken for bad data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from shared.accounts import AccountFold, by_account, fold_accounts, fold_events, latest_per_partition
from shared.consumer import BatchContext, ConsumedEvent
from shared.events import parse_event
from shared.outbox import Outbox
from shared.rejection import EventRejected

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def consumed(event_id: str, account: str, minutes: int, feature: str = "reports") -> ConsumedEvent:
    envelope = parse_event({
        "event_id": event_id, "type": "usage.recorded", "schema_version": 1, "account_id": account,
        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(), "data": {"feature": feature},
    })
    return ConsumedEvent(envelope, "t", 0, minutes, b"{}")


def ctx() -> BatchContext:
    session: Any = None  # fold_events never touches the database
    return BatchContext(session=session, outbox=Outbox(), service="svc", dlq_topic="dlq")


def features(state: tuple[str, ...], events: Sequence[ConsumedEvent]) -> tuple[str, ...]:
    for event in events:
        feature = event.parsed.data.feature  # type: ignore[union-attr]
        if feature == "poison":
            raise EventRejected("cannot apply this one")
        if feature == "bug":
            raise TypeError("unsupported operand type(s) for +: 'int' and 'NoneType'")
        state = (*state, feature)
    return state


def test_events_are_folded_in_the_order_consumed_in_one_go() -> None:
    """The runner's merge gives the order; a late event (the first here) is not moved inside its batch,
    or the fold would depend on which batch it came in (tests/faults/test_downstream_reference.py)."""
    calls: list[int] = []

    def counting(state: tuple[str, ...], events: Sequence[ConsumedEvent]) -> tuple[str, ...]:
        calls.append(len(events))
        return features(state, events)

    batch = [consumed("b", "a1", 5, "second"), consumed("a", "a1", 1, "first")]
    state, applied = fold_events((), batch, ctx(), apply=counting)
    assert state == ("second", "first")
    assert [e.parsed.event_id for e in applied] == ["b", "a"]
    assert calls == [2]


def test_one_bad_event_is_rejected_and_the_others_applied() -> None:
    context = ctx()
    batch = [consumed("a", "a1", 1, "first"), consumed("p", "a1", 2, "poison"), consumed("c", "a1", 3, "third")]
    state, applied = fold_events((), batch, context, apply=features)
    assert state == ("first", "third")
    assert [e.parsed.event_id for e in applied] == ["a", "c"]
    assert [(e.parsed.event_id, reason) for e, reason in context.rejected] == [
        ("p", "svc cannot apply usage.recorded: cannot apply this one")
    ]


@pytest.mark.parametrize("error", [ValueError, KeyError, TypeError, ArithmeticError])
def test_an_error_that_is_not_a_rejection_propagates_and_rejects_nothing(error: type[Exception]) -> None:
    def buggy(state: tuple[str, ...], events: Sequence[ConsumedEvent]) -> tuple[str, ...]:
        if any(e.parsed.event_id == "b" for e in events):
            raise error("a bug, not the event's fault")
        return features(state, events)

    context = ctx()
    with pytest.raises(error):
        fold_events((), [consumed("a", "a1", 1), consumed("b", "a1", 2)], context, apply=buggy)
    assert context.rejected == []


def test_a_batch_is_grouped_by_account_in_a_fixed_order() -> None:
    grouped = by_account([consumed("1", "b", 1), consumed("2", "a", 2), consumed("3", "b", 3)])
    assert list(grouped) == ["a", "b"]
    assert [e.parsed.event_id for e in grouped["b"]] == ["1", "3"]


def test_accounts_are_folded_from_their_start_and_one_with_nothing_applied_is_left_out() -> None:
    context = ctx()
    grouped = by_account([consumed("1", "a", 1, "first"), consumed("2", "b", 2, "poison"),
                          consumed("3", "c", 3, "third")])
    folded = fold_accounts(grouped, context, start=lambda account: (f"stored-{account}",),
                           apply=lambda account: features)
    assert {a: (state, [e.parsed.event_id for e in applied]) for a, (state, applied) in folded.items()} == {
        "a": (("stored-a", "first"), ["1"]), "c": (("stored-c", "third"), ["3"])}
    assert [e.parsed.event_id for e, _ in context.rejected] == ["2"]


class FeatureLists(AccountFold[dict[str, tuple[str, ...]], tuple[str, ...], ConsumedEvent]):
    """An AccountFold over a dict instead of tables: what each step is given and in which order."""

    def __init__(self, stored: dict[str, tuple[str, ...]]) -> None:
        self.stored = stored
        self.loaded_ids: list[str] = []
        self.written: dict[str, tuple[tuple[str, ...], list[str]]] = {}

    async def load(self, session: AsyncSession, account_ids: list[str]) -> dict[str, tuple[str, ...]]:
        self.loaded_ids = account_ids
        return {a: self.stored[a] for a in account_ids if a in self.stored}

    def start(self, account_id: str, *, loaded: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
        return loaded.get(account_id, ())

    def apply(self, account_id: str, state: tuple[str, ...], events: Sequence[ConsumedEvent]) -> tuple[str, ...]:
        return features(state, events)

    async def store(self, ctx: BatchContext, folded: dict[str, tuple[tuple[str, ...], list[ConsumedEvent]]]) -> None:
        self.written = {a: (state, [e.parsed.event_id for e in applied]) for a, (state, applied) in folded.items()}


async def test_an_account_fold_loads_once_folds_from_the_stored_state_and_stores_what_applied() -> None:
    handler = FeatureLists({"a2": ("old",)})
    batch = [consumed("x", "a2", 1, "new"), consumed("y", "a1", 2, "poison"), consumed("z", "a2", 3, "poison"),
             consumed("w", "a3", 4, "fresh")]
    context = ctx()
    await handler(context, batch)
    assert handler.loaded_ids == ["a1", "a2", "a3"]  # one load, in lock order
    assert handler.written == {"a2": (("old", "new"), ["x"]), "a3": (("fresh",), ["w"])}  # a1: nothing applied
    assert sorted(e.parsed.event_id for e, _ in context.rejected) == ["y", "z"]


def test_the_latest_event_time_per_partition() -> None:
    early, late = consumed("a", "a1", 1), consumed("b", "a2", 9)
    other = ConsumedEvent(consumed("c", "a3", 5).parsed, "t", 3, 0, b"{}")
    assert latest_per_partition([late, early, other]) == {0: T0 + timedelta(minutes=9), 3: T0 + timedelta(minutes=5)}
