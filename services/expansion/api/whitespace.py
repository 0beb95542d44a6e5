"""Whitespace: the catalogue products an account does not own, with why each fits (or does not yet)."""

from __future__ import annotations

from services.expansion.api.context import Ctx, seen_account
from services.expansion.api.models import Whitespace, WhitespaceProduct
from services.expansion.domain import snapshot, whitespace
from shared.app import api_router
from shared.auth import ReadKey

router = api_router(prefix="/v1", tags=["whitespace"])


@router.get("/accounts/{account_id}/whitespace", response_model=Whitespace,
            summary="Products the account does not own, best fit first, with the reasons")
async def account_whitespace(account_id: str, _: ReadKey, ctx: Ctx) -> Whitespace:
    signals, latest_at = await seen_account(ctx, account_id)
    # Judged at the account's latest event time, like the triggers: the answer depends on the
    # events, not on when someone asks.
    snap = snapshot(account_id, signals, ctx.thresholds, as_of=latest_at)
    return Whitespace(
        account_id=account_id, as_of=snap.as_of, owned_products=sorted(snap.owned), seats=snap.seats,
        active_users=snap.active_users,
        products=[
            WhitespaceProduct(
                product=f.product.product_id, name=f.product.name, tier=f.product.tier,
                list_price_per_seat=f.product.list_price_per_seat, fits=f.prerequisites_met, fit=f.fit,
                reasons=list(f.reasons), evidence_event_ids=list(f.evidence_event_ids),
                estimated_arr_uplift=f.estimated_arr_uplift,
            )
            for f in whitespace(snap, ctx.catalogue, ctx.thresholds)
        ],
    )
