"""The consumer's parser: contract envelopes and health.changed records, bad ones rejected."""

from __future__ import annotations

import orjson
import pytest

from services.renewals.inputs import parse_renewals_input
from shared.events import EventValidationError, HealthChanged, output_event_to_json
from tests.unit.renewals.factories import at, contract_envelope, health_changed, terms

pytestmark = pytest.mark.unit


def test_a_contract_envelope_is_parsed_as_one() -> None:
    envelope = parse_renewals_input(orjson.dumps(contract_envelope("acc", "signed", terms("c1"), on="2026-01-01")))
    assert envelope.type == "contract.signed" and envelope.account_id == "acc"


def test_a_health_changed_is_parsed_as_the_health_changed_it_is() -> None:
    record = health_changed("acc", "red", 20, on=at("2026-11-01"))
    parsed = parse_renewals_input(output_event_to_json(record))
    assert isinstance(parsed, HealthChanged) and parsed == record
    assert (parsed.event_id, parsed.type, parsed.account_id, parsed.occurred_at) == (
        record.event_id, "health.changed", "acc", record.occurred_at)


@pytest.mark.parametrize("raw", [
    b'{"type": "health.changed", "account_id": "acc"}', b'{"type": "health.changed"', b"",
    b'{"type": "usage.recorded"}',
])
def test_bad_records_are_rejected(raw: bytes) -> None:
    with pytest.raises(EventValidationError):
        parse_renewals_input(raw)
