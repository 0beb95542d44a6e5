"""What counts as an event's own fault, and a breaker for when that verdict is not believable.

Only two kinds of failure are the event's fault and send it to the dead-letter topic: it cannot be
parsed or validated (``EventValidationError``), or a validation or domain rule refuses to apply it
(``EventRejected``, raised with the reason). Every other exception is a bug or an outage: the
runner stops the partitions, rewinds, reports not ready, backs off and counts it, and nothing is
dead-lettered for it (``shared.consumer``).

Even a verdict of "bad data" is not believed when it falls on much of a batch: a producer does not
suddenly send mostly garbage, a faulty rule does. ``RejectionBreaker`` turns such a batch into a
stop instead of a flood of dead letters.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.events import EventValidationError


class EventRejected(ValueError):
    """This event cannot be applied because of its data (say, a contract event without the terms it
    needs); the message says why and goes into the dead letter with the event."""


# The only exceptions a handler (or the fold of one account's events) may dead-letter an event for.
EVENT_FAULTS: tuple[type[Exception], ...] = (EventRejected, EventValidationError)


class TooManyRejections(Exception):
    """More of a batch would be dead-lettered than the breaker allows: stop instead."""


@dataclass(frozen=True, slots=True)
class RejectionBreaker:
    """Trips when more than ``max_share`` of a batch of at least ``min_batch`` records would be
    dead-lettered (``max_share`` 1.0 never trips). Small batches are exempt: one bad event in three
    is not a pattern."""

    max_share: float = 0.5
    min_batch: int = 20

    def check(self, *, dead_letters: int, batch: int) -> None:
        if batch >= self.min_batch and dead_letters > self.max_share * batch:
            raise TooManyRejections(
                f"{dead_letters} of {batch} records would be dead-lettered (more than {self.max_share:.0%}): "
                "a fault in the code or the rules is more likely than in the data"
            )
