"""Published alert and trigger ids never change: a consumer de-duplicates by them, so a replay that
computed other ids would show every alert again as new. The values below were computed on the code
before the id functions were merged into one (health's alert ids use their own namespace and a
"|"-joined name, the other services the Orchard namespace and a JSON list); they are literals on
purpose, so any change to how an id is made fails here."""

from __future__ import annotations

import pytest

from services.expansion.domain.divergence import alert_id as divergence_alert_id
from services.expansion.domain.opportunities import opportunity_id
from services.health.domain.alert_decisions import alert_id, step_event_id
from services.renewals.domain import AlertState
from shared.events import HEALTH_ALERT_IDS, deterministic_event_id
from tests.unit.renewals.test_risk_and_alerts import _decide, _renewal

pytestmark = pytest.mark.unit

HEALTH_ALERT = "d633b5df-26d3-56a3-82d9-637b223c1906"  # acct-1, grade_red, episode 1


def test_health_alert_ids() -> None:
    assert alert_id("acct-1", "grade_red", 1) == HEALTH_ALERT
    assert alert_id("acct-1", "usage_decline", 2) == "22a75240-da57-599b-b75c-affc7643c582"
    assert deterministic_event_id("acct-1", "grade_red", "#1", namespace=HEALTH_ALERT_IDS) == HEALTH_ALERT
    assert step_event_id(HEALTH_ALERT, "raised") == "aa249509-5704-5574-a454-87865c74a779"
    assert step_event_id(HEALTH_ALERT, "escalated", "critical", "3") == "c769a0da-c5c3-5918-b0a7-db9cb07e1346"
    assert step_event_id(HEALTH_ALERT, "resolved") == "9ffcdcbb-e1bb-5490-b03e-b648aaa7bb39"


def test_renewal_alert_ids() -> None:
    assert deterministic_event_id("renewal_at_risk", "ren-1", "1") == "d5e6ffdf-d274-523d-9b2d-109931b78109"
    assert deterministic_event_id("renewal_at_risk", "ren-1", "1", "high") == "2ddcc246-b62d-514b-8e2a-d624bb254426"
    assert (deterministic_event_id("renewal_at_risk", "ren-1", "1", "reminder", "90")
            == "698aafe4-0dc9-5475-a793-acafa9bbe1f6")
    assert (deterministic_event_id("renewal_at_risk", "ren-1", "1", "resolved")
            == "0b63812d-4a9c-51c3-ae66-7b4ef460cdaf")
    # Through the domain: contract c1 renewing 2026-12-31, raised at high risk.
    renewal, _ = _renewal("red", 40)
    assert renewal.renewal_id == "9576e00c-f534-5d57-a296-36315c0dd6f6"
    raised = _decide("red", 40, AlertState())
    assert raised is not None
    assert (raised.alert_id, raised.event_id) == ("b303cf1d-ef9d-5fe7-a4b6-239b0d551fd1",
                                                  "72aed4c0-b2c8-53bb-ab9a-5f10a2e3c978")


def test_expansion_ids() -> None:
    divergence = divergence_alert_id("acct-1", 1)
    assert divergence == "719769bb-6ead-50c9-a657-60e6895f5642"
    assert deterministic_event_id("churn_risk.raised", divergence) == "3657821d-92cb-5ba4-a102-bd49a6f43839"
    assert deterministic_event_id("churn_risk.resolved", divergence) == "80c5d4c2-8766-56dc-a346-bd41c0d8fd76"
    opportunity = opportunity_id("acct-1", "seat_limit", "core", 1)
    assert opportunity == "06790052-3ee7-5353-8839-b94643a93505"
    assert deterministic_event_id("upsell.triggered", opportunity) == "481e8a70-4673-537b-950a-2743b1e8e650"
