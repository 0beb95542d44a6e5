"""The dead-letter breaker: a batch of which too much would be dead-lettered stops instead."""

from __future__ import annotations

import pytest

from shared.events import EventValidationError
from shared.rejection import EVENT_FAULTS, EventRejected, RejectionBreaker, TooManyRejections

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("dead_letters", "batch"), [(0, 100), (50, 100), (10, 20), (3, 3), (19, 19)])
def test_up_to_the_share_or_in_a_small_batch_dead_letters_go_ahead(dead_letters: int, batch: int) -> None:
    RejectionBreaker(max_share=0.5, min_batch=20).check(dead_letters=dead_letters, batch=batch)


@pytest.mark.parametrize(("dead_letters", "batch"), [(51, 100), (11, 20), (1000, 1000)])
def test_more_than_the_share_of_a_batch_trips(dead_letters: int, batch: int) -> None:
    with pytest.raises(TooManyRejections, match=f"{dead_letters} of {batch} records"):
        RejectionBreaker(max_share=0.5, min_batch=20).check(dead_letters=dead_letters, batch=batch)


def test_a_share_of_one_never_trips() -> None:
    RejectionBreaker(max_share=1.0, min_batch=1).check(dead_letters=1000, batch=1000)


def test_only_rejections_and_validation_errors_are_the_events_fault() -> None:
    assert issubclass(EventRejected, EVENT_FAULTS) and issubclass(EventValidationError, EVENT_FAULTS)
    for bug in (TypeError, KeyError, AttributeError, ArithmeticError, ValueError, RuntimeError):
        assert not issubclass(bug, EVENT_FAULTS)
