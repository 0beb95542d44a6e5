"""The consumer's one parser for both topics it reads.

`orchard.events.contract.v1` carries input envelopes; `orchard.account-health.v1` carries
`health.changed` output events, which are not envelopes. One runner reads both (so one batch, one
lock per account and one transaction cover a contract change and a health change of the same
account, and the alert rule sees both), with the shared parser for such a mix
(`shared.events.MixedParser`): a contract event is validated as an `Envelope`, a `health.changed`
as the contract's `HealthChanged`, once, and the handler gets either as it was parsed.
"""

from __future__ import annotations

from typing import Final

from shared.events import Envelope, HealthChanged, MixedParser

RenewalsInput = Envelope | HealthChanged
"""A record renewals reads: a contract event's envelope, or a `health.changed`."""

_PARSER: Final = MixedParser({"health.changed": HealthChanged})


def parse_renewals_input(raw: bytes) -> RenewalsInput:
    """A contract envelope (validated by `parse_event`) or a `health.changed`; anything else raises
    EventValidationError (the runner dead-letters it)."""
    return _PARSER.parse(raw)
