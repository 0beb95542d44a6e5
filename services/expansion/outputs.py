"""The output event of a new opportunity: `upsell.triggered` on `orchard.signals.upsell.v1`.

Its event id is derived from the opportunity id (itself deterministic: account, kind, product,
episode), so a re-emitted trigger carries the same id and consumers can de-duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.expansion.domain import NewOpportunity
from shared.events import UpsellTriggered, deterministic_event_id
from shared.outbox import Outbox


class UpsellRecord(UpsellTriggered):
    """The contract's upsell event plus the opportunity it opened, so a CRM can PATCH it back
    (the contract allows extra fields)."""

    opportunity_id: str
    episode: int


def upsell_triggered(opportunity: NewOpportunity, *, emitted_at: datetime) -> UpsellRecord:
    trigger = opportunity.trigger
    return UpsellRecord(
        event_id=deterministic_event_id("upsell.triggered", opportunity.opportunity_id),
        account_id=opportunity.account_id,
        occurred_at=opportunity.as_of,
        emitted_at=emitted_at,
        kind=trigger.kind,
        product=trigger.product,
        reason=trigger.reason[:2_000],
        evidence_event_ids=trigger.evidence_event_ids,
        estimated_arr_uplift=trigger.estimated_arr_uplift,
        confidence=trigger.confidence,
        opportunity_id=opportunity.opportunity_id,
        episode=opportunity.episode,
    )


def emit(outbox: Outbox, opportunities: Iterable[NewOpportunity], *, topic: str, emitted_at: datetime) -> None:
    for opportunity in opportunities:
        outbox.emit(topic=topic, key=opportunity.account_id, event=upsell_triggered(opportunity, emitted_at=emitted_at))
