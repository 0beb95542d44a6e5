"""The shared parser for a consumer of input envelopes and output events: envelopes as `parse_event`
has them, the output events of its models as those models, everything else rejected."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from shared.events import (
    INPUT_EXAMPLES,
    OUTPUT_EXAMPLES,
    ChurnRiskAlert,
    EventValidationError,
    HealthChanged,
    MixedParser,
    OutputEvent,
    parse_event,
)

pytestmark = pytest.mark.unit

MODELS: dict[str, type[OutputEvent]] = {"health.changed": HealthChanged, "churn_risk.raised": ChurnRiskAlert}
FRAMES = MixedParser(MODELS)


def raw(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document)


@pytest.mark.parametrize("event_type", sorted(INPUT_EXAMPLES))
def test_an_input_envelope_is_parsed_as_parse_event_parses_it(event_type: str) -> None:
    record = raw(INPUT_EXAMPLES[event_type])
    assert FRAMES.parse(record) == parse_event(record)


@pytest.mark.parametrize("event_type", ["health.changed", "churn_risk.raised"])
def test_an_output_event_is_parsed_as_its_model(event_type: str) -> None:
    document = OUTPUT_EXAMPLES[event_type]
    expected = MODELS[event_type].model_validate(document)
    parsed = FRAMES.parse(raw(document))
    assert type(parsed) is MODELS[event_type] and parsed == expected
    assert (parsed.event_id, parsed.type, parsed.account_id, parsed.occurred_at) == (
        expected.event_id, event_type, expected.account_id, expected.occurred_at)


def test_the_type_decides_as_json_reads_it_not_as_its_bytes_spell_it() -> None:
    document = OUTPUT_EXAMPLES["health.changed"]
    escaped = raw(document).replace(b'"type":"health.changed"', b'"type":"health\\u002echanged"')
    assert escaped != raw(document)
    assert FRAMES.parse(escaped) == HealthChanged.model_validate(document)


def test_an_output_event_of_a_type_not_read_is_rejected_as_an_unknown_envelope() -> None:
    with pytest.raises(EventValidationError):
        FRAMES.parse(raw(OUTPUT_EXAMPLES["churn_risk.resolved"]))


def test_a_type_named_elsewhere_in_the_record_does_not_make_it_an_output_event() -> None:
    envelope = dict(INPUT_EXAMPLES["interaction.logged"])
    envelope["source"] = "health.changed"
    assert FRAMES.parse(raw(envelope)) == parse_event(raw(envelope))


@pytest.mark.parametrize("record", [
    b'{"type": "health.changed", "account_id": "acc"}', b'{"type": "health.changed"', b"",
    b'["health.changed"]', b'{"type": "churn_risk.raised", "event_id": "e"}',
])
def test_bad_records_are_rejected(record: bytes) -> None:
    with pytest.raises(EventValidationError):
        FRAMES.parse(record)
