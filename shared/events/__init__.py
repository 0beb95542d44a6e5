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
from shared.events.outputs import (
    CHURN_RISK_KINDS,
    ORCHARD_NAMESPACE,
    UPSELL_KINDS,
    AlertReason,
    AlertSeverity,
    ChurnRiskAlert,
    Grade,
    HealthChanged,
    OutputEvent,
    UpsellTriggered,
    deterministic_event_id,
    output_event_to_json,
)
from shared.events.payloads import (
    DATA_MODEL_BY_TYPE,
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

__all__ = [
    "CHURN_RISK_KINDS",
    "DATA_MODEL_BY_TYPE",
    "DEFAULT_MAX_BYTES",
    "EVENT_TYPES",
    "ORCHARD_NAMESPACE",
    "SUPPORTED_SCHEMA_VERSIONS",
    "UPSELL_KINDS",
    "AlertReason",
    "AlertSeverity",
    "ChurnRiskAlert",
    "ContactChanged",
    "ContractCancelled",
    "ContractTerms",
    "Envelope",
    "EventData",
    "EventType",
    "EventValidationError",
    "FieldError",
    "Grade",
    "HealthChanged",
    "InteractionLogged",
    "OutputEvent",
    "SurveyAnswered",
    "TicketClosed",
    "TicketOpened",
    "TopicKind",
    "UpsellTriggered",
    "UsageRecorded",
    "deterministic_event_id",
    "envelope_to_json",
    "field_errors_from",
    "output_event_to_json",
    "parse_event",
    "topic_kind",
]
