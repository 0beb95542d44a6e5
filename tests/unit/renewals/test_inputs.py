"""The consumer's parser: contract envelopes and health.changed records, bad ones rejected."""

from __future__ import annotations

import orjson
import pytest

from services.renewals.inputs import HEALTH_CHANGED, parse_renewals_input
from shared.events import EventValidationError, output_event_to_json
from tests.unit.renewals.factories import at, contract_envelope, health_changed, terms

pytestmark = pytest.mark.unit


def test_a_contract_envelope_is_parsed_as_one() -> None:
    envelope = parse_renewals_input(orjson.dumps(contract_envelope("acc", "signed", terms("c1"), on="2026-01-01")))
    assert envelope.type == "contract.signed" and envelope.account_id == "acc"


def test_a_health_changed_is_framed_with_its_id_account_and_time() -> None:
    record = health_changed("acc", "red", 20, on=at("2026-11-01"))
    envelope = parse_renewals_input(output_event_to_json(record))
    assert (envelope.event_id, envelope.type, envelope.account_id, envelope.occurred_at) == (
        record.event_id, HEALTH_CHANGED, "acc", record.occurred_at)


@pytest.mark.parametrize("raw", [
    b'{"type": "health.changed", "account_id": "acc"}', b'{"type": "health.changed"', b"",
    b'{"type": "usage.recorded"}',
])
def test_bad_records_are_rejected(raw: bytes) -> None:
    with pytest.raises(EventValidationError):
        parse_renewals_input(raw)
