"""The handler applies a batch in the order consumed: events behind the account's latest (late ones, as
a partition group's merge gives them when a backfill was written account by account) are judged the
same whichever batch they come in."""

from __future__ import annotations

import random
from collections.abc import Sequence

import orjson
import pytest

from services.expansion.domain import Decided, ExpansionSignals, Thresholds
from services.expansion.handlers import ExpansionHandler
from services.expansion.inputs import parse_expansion_input
from services.expansion.store import expansion_tables
from shared.consumer import ConsumedEvent
from tests.unit.expansion.factories import Story, default_catalogue

pytestmark = pytest.mark.unit

HANDLER = ExpansionHandler(expansion_tables("unit"), default_catalogue(), Thresholds(), "upsell", "churn-risk")


def _consumed(events: Sequence[dict[str, object]]) -> list[ConsumedEvent]:
    raws = [orjson.dumps(e) for e in events]
    return [ConsumedEvent(parse_expansion_input(raw), "t", 0, n, raw) for n, raw in enumerate(raws)]


def _opened(batches: Sequence[Sequence[ConsumedEvent]]) -> list[tuple[str, str]]:
    state = Decided(ExpansionSignals())
    opened = []
    for batch in batches:
        state = HANDLER.apply("acct", Decided(state.signals, state.latest), batch)
        opened += [(o.opportunity_id, o.as_of.isoformat()) for o in state.opened]
    return opened


def test_late_events_are_judged_the_same_whatever_the_batches() -> None:
    story = Story("acct")
    story.contract(0, seats=10)
    story.usage(1, 40, 10)  # ten users on ten seats: seat_limit on the way
    on_time = story.events[:len(story.events) // 2]
    late = story.events[len(story.events) // 2:]
    # Half the account's usage comes after a survey and usage weeks later: late when it arrives.
    story.survey(60, "nps", 10)
    story.usage(61, 62, 10)
    arrival = _consumed([*on_time, *story.events[len(on_time) + len(late):], *late])
    whole = _opened([arrival])
    assert whole, "the story opens an opportunity at all"
    cuts = sorted(random.Random(3).sample(range(1, len(arrival)), 9))
    chunks = [arrival[a:b] for a, b in zip([0, *cuts], [*cuts, len(arrival)], strict=True)]
    assert _opened([[event] for event in arrival]) == whole == _opened(chunks)
