"""The consumer's one parser for the five topics expansion reads, and what the domain gets of each.

The usage, interaction and contract topics carry input envelopes; `orchard.account-health.v1`
(`health.changed`) and `orchard.alerts.churn-risk.v1` (`churn_risk.raised` / `.resolved`) carry
output events, which are not envelopes. As in renewals, one runner reads them all, so the records of
one account meet in one fold, merged in event time (`shared.alignment`), with the shared parser for
such a mix (`shared.events.OutputEventFrames`): an output event is validated as the contract's model
and carried in an envelope frame (id, type, account, time; no data) for the runner to de-duplicate
and group, and `signal_event` reads it back from the record's bytes.

A `health.changed` carries the time of the event that caused it, so it ties with that event. The
merge (`shared.alignment`) puts the input topics first at equal times (they come first in the
runner's topic list), and the handler folds a batch in the order consumed, so a record is never
judged under the health it caused, whether the two arrive in one batch or in two.
"""

from __future__ import annotations

from typing import Final

from services.expansion.domain import GATE_EVENT_TYPES, SignalEvent
from shared.consumer import ConsumedEvent
from shared.events import (
    ChurnRiskAlert,
    Envelope,
    HealthChanged,
    OutputEvent,
    OutputEventFrames,
)
from shared.signal_events import signal_event_of

_MODELS: Final[dict[str, type[OutputEvent]]] = {
    "health.changed": HealthChanged, "churn_risk.raised": ChurnRiskAlert, "churn_risk.resolved": ChurnRiskAlert,
}


_FRAMES = OutputEventFrames(_MODELS, source="orchard")


def parse_expansion_input(raw: bytes) -> Envelope:
    """An input envelope (validated by `parse_event`) or a health / churn-risk record in an envelope
    frame; anything else raises EventValidationError (the runner dead-letters it)."""
    return _FRAMES.parse(raw)


def signal_event(event: ConsumedEvent) -> SignalEvent:
    """The event as the domain folds it; a framed record read back as its model."""
    envelope = event.envelope
    if envelope.type in GATE_EVENT_TYPES:
        record = _FRAMES.read(envelope.type, event.raw)
        assert isinstance(record, HealthChanged | ChurnRiskAlert)  # the models of _MODELS
        return SignalEvent(envelope.event_id, envelope.type, envelope.occurred_at, record)
    return signal_event_of(envelope)
