"""The AsyncAPI 3.0 document of the contract's topics (docs/asyncapi.yaml).

Built from what the code uses, so it cannot drift from it unnoticed: topic names are the defaults of
``TopicSettings``, topic configurations are those services create (``shared.kafka.topic_configs``),
consumer groups follow ``shared.runtime`` (``orchard-<service>``), payloads are the generated JSON
Schemas (``shared.events.schemas``) and examples come from ``shared.events.examples``. Which
service sends and receives what is stated once here, and a test holds it to the services' wiring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from shared.events._fields import ID_MAX
from shared.events.envelope import topic_kind
from shared.events.examples import INPUT_EXAMPLES, OUTPUT_EXAMPLES
from shared.events.payloads import DATA_MODEL_BY_TYPE
from shared.events.schemas import (
    INPUT_TYPES,
    SCHEMA_FORMAT,
    first_paragraph,
    input_schema_file,
    output_schema_file,
)
from shared.kafka import topic_configs
from shared.settings import OrchardSettings, TopicSettings

ASYNCAPI_VERSION: Final = "3.0.0"
KAFKA_BINDING_VERSION: Final = "0.5.0"
SCHEMAS_DIR: Final = "./schemas"


@dataclass(frozen=True, slots=True)
class Channel:
    setting: str
    """The ``TopicSettings`` field holding the topic's name (and the channel's id)."""
    title: str
    description: str
    messages: tuple[str, ...]
    """Message names: input event types, or the output messages below."""


_OUTPUT_MESSAGES: Final[dict[str, tuple[str, str]]] = {
    # message name -> (schema name, summary)
    "health.changed": ("health.changed", "An account's score or grade changed (compacted: the latest per account)."),
    "churn_risk.raised": ("churn_risk", "A churn risk was detected, with its kind, severity and reasons."),
    "churn_risk.resolved": ("churn_risk", "A churn risk raised before has cleared."),
    "upsell.triggered": ("upsell.triggered", "An upsell or cross-sell trigger, with its evidence and uplift."),
    "dead_letter": ("dead_letter", "A record a service could not process, with the reason and the original bytes."),
}

CHANNELS: Final[tuple[Channel, ...]] = (
    Channel("raw", "Raw input events", "Unvalidated events in the contract's envelope, from producers that speak "
            "Kafka. Ingest validates each; an invalid one goes to the DLQ with the reason.", INPUT_TYPES),
    *(
        Channel(kind, f"Validated {kind} events", f"Input events validated and normalised by ingest (strings "
                f"trimmed, timestamps in UTC): {', '.join(f'`{t}`' for t in types)}.", types)
        for kind, types in (
            (kind, tuple(t for t in INPUT_TYPES if topic_kind(t) == kind))
            for kind in ("usage", "interaction", "contract")
        )
    ),
    Channel("dlq", "Dead letters", "Records that could not be processed: original bytes, error, source "
            "topic/partition/offset, service, time. Key: the original record's key, else topic:partition:offset.",
            ("dead_letter",)),
    Channel("account_health", "Account health", "A record each time an account's score or grade changes; "
            "compacted, so the latest record per account is kept.", ("health.changed",)),
    Channel("churn_risk", "Churn-risk alerts", "Churn-risk alerts raised and resolved, for ops teams and the CRM.",
            ("churn_risk.raised", "churn_risk.resolved")),
    Channel("upsell", "Upsell signals", "Upsell and cross-sell triggers, for ops teams and the CRM.",
            ("upsell.triggered",)),
)

# Who writes and reads each channel, as the services are wired (their service.py / __main__.py).
SENDS: Final[dict[str, tuple[str, ...]]] = {
    "producer": ("raw",),
    "ingest": ("usage", "interaction", "contract", "dlq"),
    "health": ("account_health", "churn_risk", "dlq"),
    "renewals": ("churn_risk", "dlq"),
    "expansion": ("upsell", "churn_risk", "dlq"),
}
RECEIVES: Final[dict[str, tuple[str, ...]]] = {
    "ingest": ("raw",),
    "health": ("usage", "interaction", "contract", "churn_risk"),  # churn_risk: its alert inbox
    "renewals": ("contract", "account_health"),
    "expansion": ("usage", "interaction", "contract", "account_health", "churn_risk"),
}
_ACCOUNT_KEY: Final = {"type": "string", "minLength": 1, "maxLength": ID_MAX, "description": "the account_id"}
_DEAD_LETTER_KEY: Final = {"type": "string", "description": "the original record's key, else topic:partition:offset"}
# The contract's names, whatever ORCHARD_TOPIC_* says in the environment of `make schemas`.
_DEFAULT_TOPICS: Final = TopicSettings.model_construct()
_PRODUCERS: Final = "Producers (telemetry, CRM, billing) that speak Kafka"


def asyncapi_document() -> dict[str, Any]:
    topics = _DEFAULT_TOPICS
    partitions = OrchardSettings.model_fields["topic_partitions"].default
    configs = topic_configs(topics)
    channels = {c.setting: _channel(c, getattr(topics, c.setting), partitions, configs) for c in CHANNELS}
    operations: dict[str, Any] = {}
    for who, sent in SENDS.items():
        for channel_id in sent:
            operations[_camel(f"{who}_send_{channel_id}")] = _operation(who, "send", channel_id)
    for who, received in RECEIVES.items():
        for channel_id in received:
            operations[_camel(f"{who}_receive_{channel_id}")] = _operation(who, "receive", channel_id)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Orchard topics",
            "version": "1",
            "description": "The Kafka topics of the Orchard contract. Values are JSON (UTF-8); the message "
            "key is the `account_id` (UTF-8), so one account's events stay ordered on one partition. Every "
            "event carries an `event_id`: the same id twice changes nothing the second time. Topic names are "
            "the defaults, configurable with `ORCHARD_TOPIC_<NAME>`; partitions default to "
            f"{partitions} (`ORCHARD_TOPIC_PARTITIONS`). Generated by `make schemas` from the event models.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": OrchardSettings.model_fields["kafka_bootstrap"].default,
                "protocol": "kafka",
                "description": "The local broker of `make up` (`ORCHARD_KAFKA_BOOTSTRAP`).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {_camel(name): _message(name) for name in (*INPUT_TYPES, *_OUTPUT_MESSAGES)},
        },
    }


def _channel(channel: Channel, topic: str, partitions: int, configs: dict[str, dict[str, str]]) -> dict[str, Any]:
    binding: dict[str, Any] = {"topic": topic, "partitions": partitions}
    if topic in configs:
        binding["topicConfiguration"] = {k: _config_value(k, v) for k, v in configs[topic].items()}
    binding["bindingVersion"] = KAFKA_BINDING_VERSION
    return {
        "address": topic,
        "title": channel.title,
        "description": channel.description,
        "messages": {_camel(m): {"$ref": f"#/components/messages/{_camel(m)}"} for m in channel.messages},
        "bindings": {"kafka": binding},
    }


def _config_value(name: str, value: str) -> Any:
    if name == "cleanup.policy":
        return value.split(",")
    return int(value) if value.lstrip("-").isdigit() else value


def _operation(who: str, action: str, channel_id: str) -> dict[str, Any]:
    channel = next(c for c in CHANNELS if c.setting == channel_id)
    topic = getattr(_DEFAULT_TOPICS, channel_id)
    if who == "producer":
        summary = f"{_PRODUCERS} write to `{topic}`."
    else:
        summary = f"The {who} service {'writes to' if action == 'send' else 'reads'} `{topic}`."
    operation: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel_id}"},
        "title": f"{who} {action}s {channel.title.lower()}",
        "summary": summary,
        "tags": [{"name": who}],
        "messages": [{"$ref": f"#/channels/{channel_id}/messages/{_camel(m)}"} for m in channel.messages],
    }
    if action == "receive":
        group = {"type": "string", "enum": [f"orchard-{who}"]}
        operation["bindings"] = {"kafka": {"groupId": group, "bindingVersion": KAFKA_BINDING_VERSION}}
    return operation


def _message(name: str) -> dict[str, Any]:
    description = None
    if name in DATA_MODEL_BY_TYPE:
        schema_file, summary = input_schema_file(name), f"Input event `{name}`."
        description = first_paragraph(DATA_MODEL_BY_TYPE[name].__doc__) or None
        example = INPUT_EXAMPLES[name]
    else:
        schema_name, summary = _OUTPUT_MESSAGES[name]
        schema_file, example = output_schema_file(schema_name), OUTPUT_EXAMPLES[name]
    # Inline, not a $ref: the official schema's `key` is oneOf(Reference, Schema), which a $ref
    # matches both ways (so fails).
    key = _DEAD_LETTER_KEY if name == "dead_letter" else _ACCOUNT_KEY
    message: dict[str, Any] = {"name": name, "title": name, "summary": summary}
    if description:
        message["description"] = description
    return message | {
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "properties": {
                "event_id": {"type": "string", "description": "the event's id; set on every record Orchard writes"}
            },
        },
        "payload": {"schemaFormat": SCHEMA_FORMAT, "schema": {"$ref": f"{SCHEMAS_DIR}/{schema_file}"}},
        "bindings": {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING_VERSION}},
        "examples": [{"name": f"{name} example", "payload": example}],
    }


def _camel(name: str) -> str:
    words = name.replace(".", "_").split("_")
    return words[0] + "".join(word.capitalize() for word in words[1:])
