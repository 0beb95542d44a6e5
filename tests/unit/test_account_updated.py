"""account.updated (contract, 2026-11-30): absent keeps, null clears, and that difference survives
every hop: validation, the canonical JSON on the interaction topic, a reader parsing it again.
Field-level rejections are in tests/unit/events/bad_cases.py BAD_DATA with the other types'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from services.expansion.domain import ExpansionSignals, apply_events
from services.ingest.domain import Limits, check_batch
from shared.events import ACCOUNT_FIELDS, AccountUpdated, Envelope, envelope_to_json, parse_event
from shared.settings import TopicSettings
from shared.signal_events import signal_event, signal_event_of

pytestmark = pytest.mark.unit

AT = "2026-11-20T09:30:00Z"
LONGEST = {"name": 200, "owner": 200, "segment": 64, "crm_id": 128, "tier": 64}
VALUES = {"name": "Acme GmbH", "owner": "sam.lee@example.com", "segment": "enterprise", "crm_id": "0015g00000XyZ",
          "tier": "Gold"}


def account_updated(data: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    return {"event_id": "evt-au-1", "type": "account.updated", "schema_version": 1, "account_id": "acct-1",
            "occurred_at": AT, "data": data, **envelope}


def changes_of(data: dict[str, Any]) -> dict[str, str | None]:
    parsed = parse_event(orjson.dumps(account_updated(data))).data
    assert isinstance(parsed, AccountUpdated)
    return dict(parsed.changes())


@pytest.mark.parametrize("field", ACCOUNT_FIELDS)
def test_one_field_sets_that_field_and_leaves_the_others_unchanged(field: str) -> None:
    assert changes_of({field: VALUES[field]}) == {field: VALUES[field]}


@pytest.mark.parametrize("field", ACCOUNT_FIELDS)
@pytest.mark.parametrize("clear", [None, "", "   "], ids=["null", "empty", "blank"])
def test_null_or_blank_clears_a_field(field: str, clear: str | None) -> None:
    assert changes_of({field: clear}) == {field: None}


@pytest.mark.parametrize(("field", "length"), sorted(LONGEST.items()))
def test_the_longest_value_of_each_field_is_accepted(field: str, length: int) -> None:
    assert changes_of({field: "x" * length}) == {field: "x" * length}


def test_values_are_trimmed_and_segment_lower_cased_like_the_contract_events() -> None:
    assert changes_of({"name": "  Acme  ", "segment": " Mid_Market "}) == {"name": "Acme", "segment": "mid_market"}


def test_changes_come_in_contract_order_whatever_the_order_sent() -> None:
    assert list(changes_of({"tier": "gold", "crm_id": None, "name": "Acme"})) == ["name", "crm_id", "tier"]


def test_unknown_keys_are_ignored_next_to_a_known_one() -> None:
    assert changes_of({"owner": "sam", "region": "emea"}) == {"owner": "sam"}


def test_canonical_json_keeps_absent_apart_from_cleared() -> None:
    envelope = parse_event(account_updated({"owner": "sam", "crm_id": None}))
    canonical = orjson.loads(envelope_to_json(envelope))
    assert canonical["data"] == {"owner": "sam", "crm_id": None}, "absent fields must not be written as null"
    again = parse_event(envelope_to_json(envelope))
    assert isinstance(again.data, AccountUpdated)
    assert again.data.changes() == {"owner": "sam", "crm_id": None}
    assert again == envelope


def test_model_dump_holds_only_the_fields_the_event_carries() -> None:
    event = AccountUpdated.model_validate({"tier": "gold", "name": None})
    assert event.model_dump() == {"name": None, "tier": "gold"}
    assert event.model_dump(mode="json") == {"name": None, "tier": "gold"}


def test_an_event_that_clears_is_not_equal_to_one_that_leaves_alone() -> None:
    keeps = AccountUpdated.model_validate({"name": "Acme"})
    clears = AccountUpdated.model_validate({"name": "Acme", "owner": None})
    assert keeps != clears and hash(keeps) != hash(clears)
    assert keeps == AccountUpdated.model_validate({"name": "Acme"})
    assert hash(keeps) == hash(AccountUpdated.model_validate({"name": " Acme "}))


def test_built_in_python_it_still_needs_a_field() -> None:
    with pytest.raises(ValidationError, match="no_account_fields"):
        AccountUpdated()
    envelope = Envelope(event_id="e", type="account.updated", schema_version=1, account_id="a",
                        occurred_at=datetime(2026, 11, 20, tzinfo=UTC), data=AccountUpdated(segment=None))
    assert orjson.loads(envelope_to_json(envelope))["data"] == {"segment": None}


def test_ingest_routes_it_to_the_interaction_topic_keyed_by_account() -> None:
    topics = TopicSettings()
    limits = Limits(max_body_bytes=1 << 20, max_event_bytes=1 << 20, max_events_per_request=10,
                    max_future_skew=timedelta(minutes=5))
    checked = check_batch([account_updated({"tier": "gold", "crm_id": None})],
                          now=datetime(2026, 11, 21, tzinfo=UTC), limits=limits, topics=topics)
    assert not checked.rejected
    (route,) = checked.routes
    assert (route.topic, route.key) == (topics.interaction, "acct-1")
    assert orjson.loads(route.value)["data"] == {"tier": "gold", "crm_id": None}


def test_expansion_folds_past_it_without_changing_what_it_tracks() -> None:
    signed = signal_event(event_id="c-1", event_type="contract.signed", occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
                          data={"contract_id": "C-1", "seats": 10, "products": ["core"], "arr": "1000",
                                "currency": "USD", "start_date": "2026-11-01", "end_date": "2027-10-31"})
    before = apply_events(ExpansionSignals(), [signed])
    update = parse_event(account_updated({"tier": "gold"}))
    after = apply_events(before, [signal_event_of(update)])
    assert (after.contracts, after.features, after.user_last_seen, after.nps, after.csat) == (
        before.contracts, before.features, before.user_last_seen, before.nps, before.csat)
