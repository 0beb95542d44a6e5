"""The consumer's one parser for both topics it reads.

`orchard.events.contract.v1` carries input envelopes; `orchard.account-health.v1` carries
`health.changed` output events, which are not envelopes. One runner reads both (so one batch, one
lock per account and one transaction cover a contract change and a health change of the same
account, and the alert rule sees both), with the shared parser for such a mix
(`shared.events.OutputEventFrames`): a `health.changed` is validated as the contract's
`HealthChanged` and carried in an envelope frame the runner de-duplicates and groups by account;
the handler reads the event itself back from the record's bytes (`health_record`).
"""

from __future__ import annotations

from shared.consumer import ConsumedEvent
from shared.events import Envelope, HealthChanged, OutputEventFrames

HEALTH_CHANGED = "health.changed"

_FRAMES = OutputEventFrames({HEALTH_CHANGED: HealthChanged}, source="health")


def parse_renewals_input(raw: bytes) -> Envelope:
    """A contract envelope (validated by `parse_event`) or a `health.changed` in an envelope frame;
    anything else raises EventValidationError (the runner dead-letters it)."""
    return _FRAMES.parse(raw)


def health_record(event: ConsumedEvent) -> HealthChanged:
    """The `health.changed` a framed record carries (already validated by the parser)."""
    return HealthChanged.model_validate_json(event.raw)
