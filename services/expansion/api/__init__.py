"""The expansion service's HTTP API: the contract's opportunity and whitespace endpoints."""

from __future__ import annotations

from services.expansion.api import held, opportunities, pipeline, whitespace
from services.expansion.api.context import ExpansionContext
from shared.app import ApiSpec

__all__ = ["API", "ExpansionContext"]

DESCRIPTION = """\
Upsell and cross-sell opportunities raised from usage, surveys and contracts (seat limits, premium
feature use, promoters with strong adoption, whitespace), and each account's whitespace against the
product catalogue. While an account is red or has a churn-risk alert open, its triggers are held
(`/v1/accounts/{account_id}/held-triggers` says which and why) and fire when it recovers. An
opportunity is won when a contract event adds its product and lost when it expires without progress;
`/v1/pipeline` weighs the open ones by stage and period. Every
`/v1` endpoint needs `Authorization: Bearer <API key>` with the `read` or `write` scope. Lists take
`limit` (default 50, max 500) and the opaque `cursor` of the previous page (`next_cursor`, null on
the last page).
"""


API = ApiSpec(service="expansion", title="Orchard expansion", description=DESCRIPTION,
              routers=[opportunities.router, held.router, whitespace.router, pipeline.router])
