"""A consumer batch that fails on something other than its data: an outage or a bug.

Such a batch is not dead-lettered (``shared.rejection`` says what is the data's fault): the runner
rolls it back, rewinds to it and retries it after a backoff that doubles up to a bound, and offsets
never move past it. Its partitions count as stopped, so readiness reports the runner unhealthy until
a batch of theirs goes through, whichever partitions the fetches in between bring. An outage is a
warning and a retry count; a bug is an error with its stack, counted in
``orchard_handler_errors_total``: fix it, redeploy, and the batch applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

import sqlalchemy.exc as sa_exc
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from shared.metrics import BATCH_RETRIES, HANDLER_ERRORS

log = logging.getLogger(__name__)

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    KafkaError,
    OSError,
    TimeoutError,
)


# Deadlock and serialization failures: the transaction lost a race, and a retry succeeds.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})

FIRST_BACKOFF_S = 0.2


def is_infrastructure_error(exc: BaseException) -> bool:
    """Not the events' fault: retry the batch rather than dead-letter anything."""
    if isinstance(exc, sa_exc.DBAPIError) and (
        exc.connection_invalidated or getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES
    ):
        return True
    return isinstance(exc, INFRASTRUCTURE_ERRORS)


class BatchFailures:
    """The partitions stopped on a failing batch, and the backoff before the next try."""

    def __init__(self, *, service: str, backoff_max_s: float) -> None:
        self._service = service
        self._backoff_max_s = backoff_max_s
        self.backoff_s = FIRST_BACKOFF_S
        # Partitions whose last batch failed and that have not gone through since.
        self._failing: set[TopicPartition] = set()

    def stopped(self, owned: set[TopicPartition]) -> bool:
        """Whether any of the `owned` partitions is stopped on a failing batch."""
        return bool(self._failing & owned)

    def failed(self, exc: Exception, first_offsets: Mapping[TopicPartition, int]) -> None:
        """The batch starting at `first_offsets` failed with `exc`: its partitions are stopped; log it."""
        self._failing |= set(first_offsets)
        where = {f"{tp.topic}:{tp.partition}": offset for tp, offset in first_offsets.items()}
        if is_infrastructure_error(exc):
            BATCH_RETRIES.labels(self._service).inc()
            log.warning("batch failed on infrastructure; rewinding and retrying",
                        extra={"error": repr(exc), "backoff_s": self.backoff_s, "from_offsets": where})
            return
        HANDLER_ERRORS.labels(self._service, type(exc).__name__).inc()
        log.error("batch failed on an error that is not the data's fault; partitions stopped, retrying",
                  exc_info=exc, extra={"error": repr(exc), "backoff_s": self.backoff_s, "from_offsets": where})

    def passed(self, partitions: set[TopicPartition]) -> None:
        """A batch of `partitions` went through; once none is stopped, the backoff starts over."""
        self._failing -= partitions
        if not self._failing:
            self.backoff_s = FIRST_BACKOFF_S

    def forget(self) -> None:
        """After a rebalance: a partition still broken fails again where it lands."""
        self._failing.clear()

    async def wait(self, stopping: asyncio.Event) -> None:
        """Wait out the backoff (a stop does not), and double it for the next time, up to the bound."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=self.backoff_s)
        self.backoff_s = min(self.backoff_s * 2, self._backoff_max_s)
