"""The published descriptions of the topics: docs/schemas/*.json and docs/asyncapi.yaml.

They are regenerated and compared with the committed files (a model changed without `make schemas`
fails here), the AsyncAPI document is validated against the official AsyncAPI 3.0.0 JSON Schema
(vendored in docs/vendor/asyncapi-specs), every `$ref` in it is resolved, and every example event
of the tests and of the documents is held to the generated JSON Schemas.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker

from services.ingest.api import request_body
from shared.dlq import dead_letter
from shared.events import (
    INPUT_EXAMPLES,
    OUTPUT_EXAMPLES,
    ChurnRiskAlert,
    DeadLetter,
    HealthChanged,
    UpsellTriggered,
    envelope_to_json,
    output_event_to_json,
    parse_event,
)
from shared.events.asyncapi import CHANNELS, RECEIVES, asyncapi_document
from shared.events.docs import ASYNCAPI_FILE, SCHEMAS_DIR, rendered_documents, stale_documents, write_documents
from shared.events.schemas import INPUT_EVENT_FILE, INPUT_TYPES, OUTPUT_MODELS, input_schema_file, output_schema_file
from shared.settings import TopicSettings
from tests.services import API_KEYS
from tests.unit.events import bad_cases, examples
from tests.unit.ingest import factories

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
OFFICIAL_ASYNCAPI_SCHEMA = REPO / "docs" / "vendor" / "asyncapi-specs" / "3.0.0.json"
OUTPUT_SCHEMA_OF = {"health.changed": "health.changed", "churn_risk.raised": "churn_risk",
                    "churn_risk.resolved": "churn_risk", "upsell.triggered": "upsell.triggered",
                    "dead_letter": "dead_letter"}


def committed(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((REPO / SCHEMAS_DIR / relative).read_text())
    return loaded


def validator(relative: str) -> Draft7Validator:
    return Draft7Validator(committed(relative), format_checker=FormatChecker())


def errors(relative: str, instance: Any) -> list[str]:
    return [error.message for error in validator(relative).iter_errors(instance)]


# --- the committed files are what the models give ------------------------------------------------


def test_committed_schemas_and_asyncapi_are_regenerated_from_the_models() -> None:
    stale = stale_documents(REPO)
    assert not stale, f"out of date, run `make schemas`: {[str(p) for p in stale]}"


def test_the_comparison_notices_an_edited_a_missing_and_an_orphan_file(tmp_path: Path) -> None:
    assert len(write_documents(tmp_path)) == len(rendered_documents())
    assert stale_documents(tmp_path) == []
    edited = tmp_path / SCHEMAS_DIR / input_schema_file("account.updated")
    edited.write_text(edited.read_text().replace('"maxLength": 200', '"maxLength": 256'))
    (tmp_path / ASYNCAPI_FILE).unlink()
    orphan = tmp_path / SCHEMAS_DIR / "input" / "account.deleted.json"
    orphan.write_text("{}")
    assert sorted(stale_documents(tmp_path)) == sorted(
        [SCHEMAS_DIR / input_schema_file("account.updated"), ASYNCAPI_FILE, orphan.relative_to(tmp_path)]
    )
    write_documents(tmp_path)
    assert stale_documents(tmp_path) == [] and not orphan.exists()


def test_there_is_a_schema_for_every_input_type_and_every_output_event() -> None:
    published = {str(p.relative_to(REPO / SCHEMAS_DIR)) for p in (REPO / SCHEMAS_DIR).rglob("*.json")}
    assert published == {input_schema_file(t) for t in INPUT_TYPES} | {INPUT_EVENT_FILE} | {
        output_schema_file(name) for name in OUTPUT_MODELS
    }
    assert len(INPUT_TYPES) == 11


@pytest.mark.parametrize("relative", sorted(str(p) for p in rendered_documents() if p.suffix == ".json"))
def test_every_schema_is_a_valid_draft_07_schema(relative: str) -> None:
    schema = json.loads((REPO / relative).read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    Draft7Validator.check_schema(schema)
    assert "$defs" not in json.dumps(schema), "draft-07 has `definitions`, not `$defs`"


# --- the AsyncAPI document -----------------------------------------------------------------------


def asyncapi() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / ASYNCAPI_FILE).read_text())
    return loaded


def official_asyncapi_validator() -> Draft7Validator:
    return Draft7Validator(json.loads(OFFICIAL_ASYNCAPI_SCHEMA.read_text()))


def test_asyncapi_document_is_valid_against_the_official_asyncapi_3_schema() -> None:
    problems = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in official_asyncapi_validator().iter_errors(
        asyncapi())]
    assert problems == []


@pytest.mark.parametrize(
    ("path", "bad_value"),
    [(("operations", "ingestReceiveRaw", "action"), "subscribe"), (("channels", "raw", "address"), 9092),
     (("asyncapi",), "2.6.0"), (("components", "messages", "accountUpdated", "bindings", "kafka", "bindingVersion"),
                                "9.9.9")],
    ids=["v2-action", "numeric-address", "wrong-version", "unknown-kafka-binding"],
)
def test_the_official_schema_rejects_a_broken_document(path: tuple[str, ...], bad_value: Any) -> None:
    document = asyncapi()
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = bad_value
    assert list(official_asyncapi_validator().iter_errors(document)), "the validator must be able to fail"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    if ref.startswith("#/"):
        target: Any = document
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return target
    return json.loads((REPO / ASYNCAPI_FILE).parent.joinpath(ref).read_text())


def test_every_reference_in_the_asyncapi_document_resolves() -> None:
    document = asyncapi()
    refs = _refs(document)
    assert any(r.startswith("./schemas/") for r in refs) and any(r.startswith("#/") for r in refs)
    for ref in refs:
        assert _resolve(document, ref) is not None, ref


def test_operations_send_and_receive_messages_of_their_own_channel() -> None:
    document = asyncapi()
    for name, operation in document["operations"].items():
        channel_ref = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/"), (name, message)


def test_channels_are_the_contract_topics_with_their_default_names() -> None:
    channels = asyncapi()["channels"]
    topics = TopicSettings.model_construct()
    contract = {"raw", "usage", "interaction", "contract", "dlq", "account_health", "churn_risk", "upsell"}
    assert set(channels) == contract == {c.setting for c in CHANNELS}
    for channel_id, channel in channels.items():
        assert channel["address"] == getattr(topics, channel_id) == channel["bindings"]["kafka"]["topic"]
    assert channels["account_health"]["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"] == ["compact"]
    assert "accountUpdated" in channels["interaction"]["messages"]


def test_asyncapi_examples_meet_their_payload_schemas() -> None:
    document = asyncapi()
    for name, message in document["components"]["messages"].items():
        payload_schema = Draft7Validator(_resolve(document, message["payload"]["schema"]["$ref"]),
                                         format_checker=FormatChecker())
        for example in message["examples"]:
            assert list(payload_schema.iter_errors(example["payload"])) == [], name


async def test_receive_operations_are_how_the_services_are_wired(monkeypatch: pytest.MonkeyPatch) -> None:
    import shared.runtime
    from services.expansion.service import build_service as build_expansion
    from services.expansion.settings import ExpansionSettings
    from services.health.service import build_service as build_health
    from services.health.settings import HealthSettings
    from services.ingest.service import build_service as build_ingest
    from services.ingest.settings import IngestSettings
    from services.renewals.service import build_service as build_renewals
    from services.renewals.settings import RenewalsSettings

    # Every service with an HTTP API refuses to be built without API keys (shared.auth).
    monkeypatch.setenv("ORCHARD_API_KEYS", orjson.dumps(API_KEYS).decode())
    # No clients: building a service only wires it, and the spy records what each one subscribes to.
    monkeypatch.setattr(shared.runtime, "make_consumer", lambda *args, **kwargs: None)
    monkeypatch.setattr(shared.runtime, "make_producer", lambda *args, **kwargs: None)
    subscribed: dict[str, set[str]] = {}
    consumer_runner = shared.runtime.Runtime.consumer_runner

    def spy(self: shared.runtime.Runtime, *, topics: list[str], **kwargs: Any) -> Any:
        subscribed.setdefault(self.settings.service_name, set()).update(topics)  # every runner of it
        return consumer_runner(self, topics=topics, **kwargs)

    monkeypatch.setattr(shared.runtime.Runtime, "consumer_runner", spy)
    builds = [(build_ingest, IngestSettings()), (build_health, HealthSettings()),
              (build_renewals, RenewalsSettings()), (build_expansion, ExpansionSettings())]
    for build, settings in builds:
        service = build(settings)  # type: ignore[operator]
        await service.runtime.engine.dispose()
        expected = {getattr(settings.topics, channel_id) for channel_id in RECEIVES[settings.service_name]}
        assert subscribed[settings.service_name] == expected, settings.service_name


# --- examples against the schemas ----------------------------------------------------------------


def test_published_input_examples_are_valid_events_and_meet_their_schemas() -> None:
    assert list(INPUT_EXAMPLES) == list(INPUT_TYPES)
    for event_type, example in INPUT_EXAMPLES.items():
        parse_event(example)
        assert errors(input_schema_file(event_type), example) == [], event_type
        assert errors(INPUT_EVENT_FILE, example) == [], event_type


def test_published_output_examples_are_valid_events_and_meet_their_schemas() -> None:
    models: dict[str, Any] = {"health.changed": HealthChanged, "churn_risk": ChurnRiskAlert,
                              "upsell.triggered": UpsellTriggered, "dead_letter": DeadLetter}
    for name, example in OUTPUT_EXAMPLES.items():
        schema_name = OUTPUT_SCHEMA_OF[name]
        models[schema_name].model_validate(example)
        assert errors(output_schema_file(schema_name), example) == [], name


TEST_INPUT_EXAMPLES = [
    pytest.param(examples.make_event(t), id=f"test_events-{t}") for t in sorted(examples.GOOD_DATA)
] + [pytest.param(factories.make_event(t), id=f"factories-{t}") for t in sorted(factories.GOOD_DATA)]


@pytest.mark.parametrize("example", TEST_INPUT_EXAMPLES)
def test_the_tests_input_examples_and_their_canonical_form_meet_the_schemas(example: dict[str, Any]) -> None:
    assert errors(INPUT_EVENT_FILE, example) == []
    assert errors(input_schema_file(example["type"]), example) == []
    canonical = orjson.loads(envelope_to_json(parse_event(example)))
    assert errors(INPUT_EVENT_FILE, canonical) == [], "what ingest writes to the canonical topics"


# Rules the models enforce that JSON Schema cannot state (or that only the service can judge):
# the schema accepts these, and ingest's answer stays the final word.
SERVICE_ONLY_RULES = {
    "string_too_short",  # blank after trimming ("  "): JSON Schema does not trim
    "end_date_not_after_start_date",  # compares two fields' values
    "datetime_out_of_range",  # the offset pushes it out of range once converted to UTC
    "int_type",  # 1.0 is an integer to JSON Schema; the models want the JSON text `1`
}
SCHEMA_ACCEPTS = {"event-id-blank", "products-blank-item", "id-blank", "usage-feature-blank", "end-equals-start",
                  "end-before-start", "cancel-end-before-start", "occurred-year-0", "version-float"}


def _bad_examples() -> list[Any]:
    cases = []
    for case in bad_cases.BAD_DATA:
        event_type, changes, _loc, error_type = case.values
        cases.append(pytest.param(examples.with_data(event_type, **changes), error_type, id=case.id))
    for case in bad_cases.BAD_CONTRACT_TERMS:
        changes, _loc, error_type = case.values
        cases.append(pytest.param(examples.with_data("contract.signed", **changes), error_type, id=case.id))
    for case in bad_cases.BAD_ENVELOPES:
        changes, _loc, error_type = case.values
        cases.append(pytest.param(examples.make_event(**changes), error_type, id=case.id))
    for case in bad_cases.NO_ACCOUNT_FIELDS:
        (data,) = case.values
        cases.append(pytest.param(examples.make_event("account.updated", data), "no_account_fields", id=case.id))
    return cases


@pytest.mark.parametrize(("event", "error_type"), _bad_examples())
def test_the_schemas_reject_what_the_models_reject_where_json_schema_can_say_it(
    event: dict[str, Any], error_type: str, request: pytest.FixtureRequest
) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the models reject it (tests/unit/events says how)
        parse_event(orjson.dumps(event))
    case = request.node.callspec.id
    if case in SCHEMA_ACCEPTS:
        assert error_type in SERVICE_ONLY_RULES
        assert errors(INPUT_EVENT_FILE, event) == [], "listed as service-only, yet the schema rejects it"
    else:
        assert errors(INPUT_EVENT_FILE, event), f"the schema accepts an event the models reject ({error_type})"


def test_output_events_as_serialised_meet_their_schemas() -> None:
    built = {
        "health.changed": examples.health_changed(),
        "churn_risk": examples.churn_alert(churn_probability=0.2, kind_precision=0.5),
        "upsell.triggered": examples.upsell(),
    }
    for name, event in built.items():
        assert errors(output_schema_file(name), orjson.loads(output_event_to_json(event))) == [], name
    resolved = examples.churn_alert(type="churn_risk.resolved", kind="revenue_health_divergence")
    assert errors(output_schema_file("churn_risk"), orjson.loads(output_event_to_json(resolved))) == []
    too_probable = {**orjson.loads(output_event_to_json(resolved)), "churn_probability": 1.5}
    assert errors(output_schema_file("churn_risk"), too_probable)


def test_a_dead_letter_as_written_meets_its_schema() -> None:
    letter = dead_letter(service="health", dlq_topic="dlq", raw=b"\xff not utf-8", key=None, error="bad",
                         error_kind="validation", source_topic="orchard.events.usage.v1", partition=2, offset=7,
                         failed_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
    body = orjson.loads(letter.value)
    assert errors(output_schema_file("dead_letter"), body) == []
    assert DeadLetter.model_validate(body).original is None


# --- the ingest OpenAPI request body ------------------------------------------------------------


def _openapi_body(max_events: int) -> dict[str, Any]:
    body: dict[str, Any] = request_body(max_events=max_events, max_body_bytes=1 << 20)["requestBody"]
    return body["content"]["application/json"]  # type: ignore[no-any-return]


def test_ingest_openapi_body_is_the_envelope_alone_or_in_a_batch() -> None:
    body = _openapi_body(1000)
    assert "$ref" not in json.dumps(body["schema"]), "embedded in OpenAPI, it must stand alone"
    # OpenAPI 3.1 schemas are JSON Schema 2020-12.
    schema = Draft202012Validator(body["schema"], format_checker=FormatChecker())
    assert set(body["examples"]) == {"one event", "account.updated", "a batch"}
    for name, example in body["examples"].items():
        assert list(schema.iter_errors(example["value"])) == [], name
    one = INPUT_EXAMPLES["account.updated"]
    three = Draft202012Validator(_openapi_body(3)["schema"])
    assert three.is_valid({"events": [one, one, one]}) and not three.is_valid({"events": [one] * 4})
    assert not schema.is_valid({**one, "data": {}}), "account.updated needs a field"
    assert not schema.is_valid({**one, "type": "account.deleted"})
    assert not schema.is_valid({"events": [one], "extra": 1})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"events": [copy.deepcopy(one) | {"schema_version": 2}]}, body["schema"],
                            cls=Draft202012Validator)


def test_asyncapi_document_in_memory_equals_the_committed_one() -> None:
    assert asyncapi_document() == asyncapi()
