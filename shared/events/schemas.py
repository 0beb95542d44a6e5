"""JSON Schemas of the contract's events, generated from the models (published in docs/schemas/).

Draft-07, the dialect with the widest support among validators in other languages (and the one
AsyncAPI 3.0 names), so pydantic's ``$defs`` become ``definitions``. Each input type gets a
self-contained schema (the envelope with that type's ``data``, no ``$ref``), which is also what the
ingest OpenAPI embeds; ``input-event.json`` picks one of them by ``type``. Output schemas describe
the JSON as written (serialisation mode: money as decimal strings).

The schemas check what JSON Schema can say; a few rules stay with the service (an end date after
its start date, a timestamp no further ahead than the clock-skew bound, blank strings, duplicate
event ids), so ingest's answer is the final word.
"""

from __future__ import annotations

import copy
from typing import Any, Final, get_args

from pydantic import BaseModel

from shared.events.envelope import Envelope
from shared.events.outputs import ChurnRiskAlert, DeadLetter, HealthChanged, UpsellTriggered
from shared.events.payloads import DATA_MODEL_BY_TYPE, EventType

JsonSchema = dict[str, Any]

DRAFT_07: Final = "http://json-schema.org/draft-07/schema#"
SCHEMA_FORMAT: Final = "application/schema+json;version=draft-07"

# Types in the contract's order (the order of ``EventType``), for stable documents.
INPUT_TYPES: Final[tuple[str, ...]] = get_args(EventType)
OUTPUT_MODELS: Final[dict[str, type[BaseModel]]] = {
    "health.changed": HealthChanged,
    "churn_risk": ChurnRiskAlert,
    "upsell.triggered": UpsellTriggered,
    "dead_letter": DeadLetter,
}
INPUT_EVENT_FILE: Final = "input-event.json"


def input_schema_file(event_type: str) -> str:
    """Where an input type's schema lives, relative to docs/schemas/."""
    return f"input/{event_type}.json"


def output_schema_file(name: str) -> str:
    return f"output/{name}.json"


def input_event_schema(event_type: str) -> JsonSchema:
    """One input type's envelope with its ``data``: self-contained, draft-07."""
    data_model = DATA_MODEL_BY_TYPE[event_type]
    envelope = Envelope.model_json_schema(mode="validation")
    properties = {name: value for name, value in envelope["properties"].items() if name != "data"}
    properties["type"] = {"const": event_type, "title": "Type"}
    properties["data"] = _inline_refs(_draft07(data_model.model_json_schema(mode="validation")))
    return {
        "$schema": DRAFT_07,
        "title": event_type,
        "description": f"Input event `{event_type}` (schema_version 1): the contract's envelope with its data. "
        + first_paragraph(data_model.__doc__),
        "type": "object",
        "properties": properties,
        "required": envelope["required"],
        "additionalProperties": envelope.get("additionalProperties", True),
    }


def any_input_event_schema() -> JsonSchema:
    """Any input event: the envelope's ``type`` names the schema its whole event must meet."""
    return {
        "$schema": DRAFT_07,
        "title": "Orchard input event",
        "description": "Any input event of the contract, POSTed to ingest or produced to orchard.ingest.raw.v1.",
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": list(INPUT_TYPES)}},
        # if/then rather than oneOf: a validator then reports the errors of the one type sent.
        "allOf": [
            {
                "if": {"properties": {"type": {"const": event_type}}, "required": ["type"]},
                "then": {"$ref": f"#/definitions/{event_type}"},
            }
            for event_type in INPUT_TYPES
        ],
        "definitions": {event_type: _without_dialect(input_event_schema(event_type)) for event_type in INPUT_TYPES},
    }


def embeddable_input_event_schema() -> JsonSchema:
    """Any input event as one schema with no ``$ref`` and no dialect, for embedding in another
    document (the ingest OpenAPI 3.1, whose JSON Schema dialect reads these keywords alike)."""
    return {
        "title": "Input event",
        "description": "One event in the contract's envelope; `type` selects the shape of `data`.",
        "oneOf": [_without_dialect(input_event_schema(event_type)) for event_type in INPUT_TYPES],
    }


def output_event_schema(name: str) -> JsonSchema:
    """An output event (or DLQ record) as written to its topic; readers must ignore unknown fields."""
    model = OUTPUT_MODELS[name]
    schema = _draft07(model.model_json_schema(mode="serialization", ref_template="#/definitions/{model}"))
    # The contract's fields only: Orchard's extensions are extra fields a reader may ignore.
    extensions: frozenset[str] = getattr(model, "extensions", frozenset())
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k not in extensions}
    return {"$schema": DRAFT_07, **schema}


def schema_documents() -> dict[str, JsonSchema]:
    """Every published schema by its path under docs/schemas/."""
    documents = {input_schema_file(t): input_event_schema(t) for t in INPUT_TYPES}
    documents[INPUT_EVENT_FILE] = any_input_event_schema()
    documents.update({output_schema_file(name): output_event_schema(name) for name in OUTPUT_MODELS})
    return documents


def _draft07(schema: JsonSchema) -> JsonSchema:
    schema = copy.deepcopy(schema)
    if "$defs" in schema:
        schema["definitions"] = schema.pop("$defs")
    return schema


def _without_dialect(schema: JsonSchema) -> JsonSchema:
    return {key: value for key, value in schema.items() if key != "$schema"}


def _inline_refs(schema: JsonSchema) -> JsonSchema:
    """The schema with every local ``#/definitions/X`` replaced by X itself (input models are not
    recursive), so that it can be embedded anywhere, e.g. in an OpenAPI document."""
    definitions = schema.pop("definitions", {})
    prefix = "#/definitions/"

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                siblings = {key: value for key, value in node.items() if key != "$ref"}
                return inline({**definitions[ref.removeprefix(prefix)], **siblings})
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    inlined: JsonSchema = inline(schema)
    return inlined


def first_paragraph(doc: str | None) -> str:
    """A docstring's first paragraph on one line: the description a model publishes."""
    return " ".join((doc or "").split("\n\n")[0].split())
