"""The health service's HTTP API: the contract's health endpoints, scorecards, overrides, alerts."""

from __future__ import annotations

from services.health.api import accounts, alerts, overrides, scorecards, timeline
from services.health.api.backtest import build_backtest_router
from services.health.api.context import HealthContext
from shared.app import ApiSpec

__all__ = ["HealthContext", "health_api"]

DESCRIPTION = """\
An explainable, configurable account health score per account, its history and trend, the account's
timeline, versioned scorecards per segment, manual overrides and their history, and the inbox of
churn-risk alerts (health's and other services'), and a backtest of an event history against its
outcomes. Every `/v1` endpoint needs
`Authorization: Bearer <API key>` with the `read` or `write` scope. Lists take `limit` (default 50,
max 500) and the opaque `cursor` of the previous page (`next_cursor`, null on the last page).
"""


def health_api(*, backtest_max_bytes: int, backtest_timeout_s: float) -> ApiSpec:
    """The API, with the backtest's body and time limits from the settings."""
    return ApiSpec(service="health", title="Orchard health", description=DESCRIPTION, routers=[
        accounts.router, timeline.router, overrides.router, alerts.router, scorecards.router,
        build_backtest_router(max_body_bytes=backtest_max_bytes, timeout_s=backtest_timeout_s)])
