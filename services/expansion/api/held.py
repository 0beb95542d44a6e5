"""Held triggers: what expansion would sell to an account but holds back while the account is red or
has a churn-risk alert open (`domain.health_gate`), with why."""

from __future__ import annotations

from services.expansion.api.context import Ctx, seen_account
from services.expansion.api.models import HeldTrigger, HeldTriggers
from shared.app import api_router
from shared.auth import ReadKey

router = api_router(prefix="/v1", tags=["opportunities"])


@router.get("/accounts/{account_id}/held-triggers", response_model=HeldTriggers,
            summary="Upsell triggers held back by the account's health, with why")
async def held_triggers(account_id: str, _: ReadKey, ctx: Ctx) -> HeldTriggers:
    signals, _seen_at = await seen_account(ctx, account_id)
    gate = signals.gate
    return HeldTriggers(
        account_id=account_id,
        grade=None if gate.grade is None else gate.grade.grade,
        open_alert_ids=sorted(gate.open_alerts),
        held=[HeldTrigger(kind=h.kind, product=h.product, reason=h.reason, held_reason=h.held_reason,
                          held_since=h.since, as_of=h.as_of, evidence_event_ids=list(h.evidence_event_ids),
                          estimated_arr_uplift=h.estimated_arr_uplift, confidence=h.confidence)
              for h in sorted(gate.held.values(), key=lambda h: (h.kind, h.product))],
    )
