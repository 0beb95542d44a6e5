"""The consumer's one parser for the five topics expansion reads, and what the domain gets of each.

The usage, interaction and contract topics carry input envelopes; `orchard.account-health.v1`
(`health.changed`) and `orchard.alerts.churn-risk.v1` (`churn_risk.raised` / `.resolved`) carry
output events, which are not envelopes. As in renewals, one runner reads them all, so the records of
one account meet in one fold, merged in event time (`shared.alignment`), with the shared parser for
such a mix (`shared.events.MixedParser`): an input event is validated as an `Envelope`, an output
event as the contract's model, once, and `signal_event` hands either to the domain as it was parsed.

A `health.changed` carries the time of the event that caused it, so it ties with that event. The
merge (`shared.alignment`) puts the input topics first at equal times (they come first in the
runner's topic list), and the handler folds a batch in the order consumed, so a record is never
judged under the health it caused, whether the two arrive in one batch or in two.
"""

from __future__ import annotations

from typing import Final

from services.expansion.domain import SignalEvent
from shared.consumer import ConsumedEvent
from shared.events import ChurnRiskAlert, Envelope, HealthChanged, MixedParser
from shared.signal_events import signal_event_of

ExpansionInput = Envelope | HealthChanged | ChurnRiskAlert
"""A record expansion reads: an input envelope, or a health or churn-risk record (its health gate)."""

_PARSER: Final = MixedParser[HealthChanged | ChurnRiskAlert]({
    "health.changed": HealthChanged, "churn_risk.raised": ChurnRiskAlert, "churn_risk.resolved": ChurnRiskAlert,
})


def parse_expansion_input(raw: bytes) -> ExpansionInput:
    """An input envelope (validated by `parse_event`) or a health / churn-risk record; anything else
    raises EventValidationError (the runner dead-letters it)."""
    return _PARSER.parse(raw)


def signal_event(event: ConsumedEvent[ExpansionInput]) -> SignalEvent:
    """The event as the domain folds it: an envelope's payload, or the output record itself."""
    record = event.parsed
    if isinstance(record, Envelope):
        return signal_event_of(record)
    return SignalEvent(record.event_id, record.type, record.occurred_at, record)
