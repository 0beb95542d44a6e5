"""The shared parser for a consumer of input envelopes and output events: envelopes as `parse_event`
has them, the output events of its models in a frame, everything else rejected."""

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
    OutputEvent,
    OutputEventFrames,
    parse_event,
)

pytestmark = pytest.mark.unit

MODELS: dict[str, type[OutputEvent]] = {"health.changed": HealthChanged, "churn_risk.raised": ChurnRiskAlert}
FRAMES = OutputEventFrames(MODELS, source="orchard")


def raw(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document)


@pytest.mark.parametrize("event_type", sorted(INPUT_EXAMPLES))
def test_an_input_envelope_is_parsed_as_parse_event_parses_it(event_type: str) -> None:
    record = raw(INPUT_EXAMPLES[event_type])
    assert FRAMES.parse(record) == parse_event(record)


@pytest.mark.parametrize("event_type", ["health.changed", "churn_risk.raised"])
def test_an_output_event_is_framed_with_its_id_type_account_and_time_and_read_back(event_type: str) -> None:
    document = OUTPUT_EXAMPLES[event_type]
    expected = MODELS[event_type].model_validate(document)
    envelope = FRAMES.parse(raw(document))
    assert (envelope.event_id, envelope.type, envelope.account_id, envelope.occurred_at) == (
        expected.event_id, event_type, expected.account_id, expected.occurred_at)
    assert envelope.source == "orchard" and envelope.data is None
    assert FRAMES.read(envelope.type, raw(document)) == expected


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
