"""The renewals service's HTTP API: the contract's renewals, forecast and retention endpoints."""

from __future__ import annotations

from services.renewals.api import renewals, reports
from services.renewals.api.context import RenewalsContext
from shared.app import ApiSpec

__all__ = ["API", "RenewalsContext"]

DESCRIPTION = """\
One renewal per contract term, opened a configurable number of days (default 120) before its end
date, with its risk (from the account's health grade and 30-day trend, auto-renew, the days left and
a passed date, each with its reason), re-judged as the calendar moves by a scheduled pass, a stage
people move along, an owner and notes; the renewal forecast (band probabilities from the book's own
closed renewals once there are enough, else defaults, with where each came from) and the retention
metrics (GRR, NRR, logo churn) of a period, per currency. Every
`/v1` endpoint needs `Authorization: Bearer <API key>` with the `read` or `write` scope. Lists take
`limit` (default 50, max 500) and the opaque `cursor` of the previous page (`next_cursor`, null on
the last page).
"""


API = ApiSpec(service="renewals", title="Orchard renewals", description=DESCRIPTION,
              routers=[renewals.router, reports.router])
