"""One churn-risk model and one upsell model for every raiser: each raiser's records carry the
contract's fields and only the extensions it set (health sends no `episode`, renewals send
`reminder_days: null` on a raise), a reader's copy publishes the same JSON, and the published
JSON Schema stays the contract's."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from shared.events import ChurnRiskAlert, UpsellTriggered, output_event_schema, output_event_to_json
from tests.unit.events.examples import EMITTED, churn_alert, upsell

pytestmark = pytest.mark.unit

CONTRACT_FIELDS = {"event_id", "type", "schema_version", "account_id", "occurred_at", "emitted_at", "kind",
                   "severity", "score", "previous_score", "grade", "reasons", "renewal_date", "days_to_renewal",
                   "arr_at_risk", "churn_probability", "kind_precision"}


def test_a_raiser_publishes_the_contract_fields_and_only_the_extensions_it_set() -> None:
    health = churn_alert(alert_id="A", action="escalated", episode_start=EMITTED)
    assert set(health.published()) == CONTRACT_FIELDS | {"alert_id", "action", "episode_start"}
    renewal = churn_alert(alert_id="R", action="raised", episode=1, renewal_id="r1", contract_id="c1",
                          currency="EUR", reminder_days=None)
    published = renewal.published()
    assert "reminder_days" in published and published["reminder_days"] is None, "set to null: published as null"
    assert "direction" not in published and "arr_by_currency" not in published
    assert set(churn_alert().published()) == CONTRACT_FIELDS, "a record without extensions is the contract's"


def test_a_reader_republishes_exactly_what_it_read() -> None:
    for record in (churn_alert(alert_id="A", action="raised", direction="arr_up_health_down",
                               arr_by_currency={"USD": "5"}, episode=2), churn_alert()):
        raw = output_event_to_json(record)
        assert output_event_to_json(ChurnRiskAlert.model_validate_json(raw)) == raw
    opened = upsell(opportunity_id="o1", episode=1)
    assert output_event_to_json(UpsellTriggered.model_validate_json(output_event_to_json(opened))) \
        == output_event_to_json(opened)
    assert set(orjson.loads(output_event_to_json(upsell()))) >= {"kind", "product"}
    assert "opportunity_id" not in orjson.loads(output_event_to_json(upsell()))


def test_kinds_stay_open_but_actions_severities_and_grades_are_checked() -> None:
    assert churn_alert(kind="a_kind_of_tomorrow").kind == "a_kind_of_tomorrow"
    for bad in ({"action": "snoozed"}, {"severity": "urgent"}, {"grade": "amber"},
                {"direction": "sideways"}):
        with pytest.raises(ValidationError):
            churn_alert(**bad)


def test_the_published_schema_is_the_contracts() -> None:
    assert set(output_event_schema("churn_risk")["properties"]) == CONTRACT_FIELDS
    assert not set(output_event_schema("upsell.triggered")["properties"]) & UpsellTriggered.extensions
