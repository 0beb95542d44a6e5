"""The contract's events: input envelope and data models, validation, output events.

Import from here (``from shared.events import parse_event, Envelope``); the submodules are an
implementation detail.
"""

from shared.events._errors import EventValidationError, FieldError, field_errors_from
from shared.events.envelope import (
    DEFAULT_MAX_BYTES,
    EVENT_TYPES,
    SUPPORTED_SCHEMA_VERSIONS,
    Envelope,
    TopicKind,
    envelope_to_json,
    parse_event,
    topic_kind,
)
from shared.events.examples import INPUT_EXAMPLES, OUTPUT_EXAMPLES
from shared.events.ids import (
    HEALTH_ALERT_IDS,
    ORCHARD_IDS,
    ORCHARD_NAMESPACE,
    IdNamespace,
    deterministic_event_id,
)
from shared.events.mixed import MixedParser
from shared.events.outputs import (
    CHURN_RISK_KINDS,
    UPSELL_KINDS,
    AlertReason,
    AlertSeverity,
    ChurnRiskAlert,
    DeadLetter,
    Grade,
    HealthChanged,
    OutputEvent,
    UpsellTriggered,
    output_event_to_json,
)
from shared.events.payloads import (
    ACCOUNT_FIELDS,
    DATA_MODEL_BY_TYPE,
    AccountField,
    AccountUpdated,
    ContactChanged,
    ContractCancelled,
    ContractTerms,
    EventData,
    EventType,
    InteractionLogged,
    SurveyAnswered,
    TicketClosed,
    TicketOpened,
    UsageRecorded,
)
from shared.events.schemas import embeddable_input_event_schema, input_event_schema, output_event_schema

__all__ = [
    "ACCOUNT_FIELDS",
    "CHURN_RISK_KINDS",
    "DATA_MODEL_BY_TYPE",
    "DEFAULT_MAX_BYTES",
    "EVENT_TYPES",
    "HEALTH_ALERT_IDS",
    "INPUT_EXAMPLES",
    "ORCHARD_IDS",
    "ORCHARD_NAMESPACE",
    "OUTPUT_EXAMPLES",
    "SUPPORTED_SCHEMA_VERSIONS",
    "UPSELL_KINDS",
    "AccountField",
    "AccountUpdated",
    "AlertReason",
    "AlertSeverity",
    "ChurnRiskAlert",
    "ContactChanged",
    "ContractCancelled",
    "ContractTerms",
    "DeadLetter",
    "Envelope",
    "EventData",
    "EventType",
    "EventValidationError",
    "FieldError",
    "Grade",
    "HealthChanged",
    "IdNamespace",
    "InteractionLogged",
    "MixedParser",
    "OutputEvent",
    "SurveyAnswered",
    "TicketClosed",
    "TicketOpened",
    "TopicKind",
    "UpsellTriggered",
    "UsageRecorded",
    "deterministic_event_id",
    "embeddable_input_event_schema",
    "envelope_to_json",
    "field_errors_from",
    "input_event_schema",
    "output_event_schema",
    "output_event_to_json",
    "parse_event",
    "topic_kind",
]
