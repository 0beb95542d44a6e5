"""The `data` models of the input event types (contract, "Event types", schema_version 1).

`data` ignores fields it does not know (``extra="ignore"``): producers may add fields ahead of
Orchard (a tolerant reader), and only the fields below reach the canonical topics. Everything the
contract names is validated strictly; numbers must be JSON numbers (``arr`` may also be a decimal
string, as the contract says), booleans never pass for numbers, strings are trimmed and optional
strings that are empty after trimming become null.

Where a rule ties fields together (a survey's scale, ``new_role`` with ``role_changed``, at least one
field of ``account.updated``), the model also says it in ``json_schema_extra`` so that the published
JSON Schemas (``shared.events.schemas``) check it too.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final, Literal, Self, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.events._fields import (
    Channel,
    ContactChange,
    ContactRole,
    Currency,
    Direction,
    Identifier,
    IsoDate,
    Money,
    Name,
    NonNegativeNumber,
    OptionalDisplayName,
    OptionalId,
    OptionalName,
    OptionalText,
    Products,
    SeatCount,
    Segment,
    Sentiment,
    StrictBool,
    StrictInt,
    Summary,
    SurveyKind,
    TicketSeverity,
    Tier,
)

EventType = Literal[
    "usage.recorded",
    "interaction.logged",
    "ticket.opened",
    "ticket.closed",
    "survey.answered",
    "contact.changed",
    "account.updated",
    "contract.signed",
    "contract.renewed",
    "contract.amended",
    "contract.cancelled",
]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


class UsageRecorded(_Payload):
    feature: Name
    quantity: NonNegativeNumber = 1.0
    user_id: OptionalId = None
    product: OptionalName = None


class InteractionLogged(_Payload):
    channel: Channel
    direction: Direction | None = None
    contact_id: OptionalId = None
    sentiment: Sentiment | None = None
    summary: Summary = None


class TicketOpened(_Payload):
    ticket_id: Identifier
    severity: TicketSeverity
    subject: OptionalText = None


class TicketClosed(_Payload):
    ticket_id: Identifier
    resolution: OptionalText = None


_SURVEY_SCALES: Final = {"nps": (0, 10), "csat": (1, 5)}


class SurveyAnswered(_Payload):
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                    "then": {"properties": {"score": {"type": "integer", "minimum": low, "maximum": high}}},
                }
                for kind, (low, high) in _SURVEY_SCALES.items()
            ]
        }
    )

    kind: SurveyKind
    score: StrictInt
    contact_id: OptionalId = None
    comment: OptionalText = None

    @field_validator("score")
    @classmethod
    def _score_on_the_kind_scale(cls, score: int, info: ValidationInfo) -> int:
        kind = info.data.get("kind")
        if kind is None:  # kind itself is invalid and already reported
            return score
        low, high = _SURVEY_SCALES[kind]
        if not low <= score <= high:
            raise PydanticCustomError(
                "score_out_of_range",
                "{kind} score must be an integer from {low} to {high}; got {score}",
                {"kind": kind, "low": low, "high": high, "score": score},
            )
        return score


class ContactChanged(_Payload):
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"change": {"const": "role_changed"}}, "required": ["change"]},
            "then": {"required": ["new_role"], "properties": {"new_role": {"type": "string"}}},
            "else": {"properties": {"new_role": {"type": "null"}}},
        }
    )

    contact_id: Identifier
    role: ContactRole
    change: ContactChange
    # Validated even when absent: it is required exactly when change == "role_changed".
    new_role: ContactRole | None = Field(default=None, validate_default=True)
    name: OptionalDisplayName = None

    @field_validator("new_role")
    @classmethod
    def _new_role_iff_role_changed(cls, new_role: str | None, info: ValidationInfo) -> str | None:
        change = info.data.get("change")
        if change == "role_changed" and new_role is None:
            raise PydanticCustomError("missing", "new_role is required when change is 'role_changed'")
        if change is not None and change != "role_changed" and new_role is not None:
            raise PydanticCustomError(
                "new_role_not_allowed",
                "new_role is only allowed when change is 'role_changed', not {change!r}",
                {"change": change},
            )
        return new_role


AccountField = Literal["name", "owner", "segment", "crm_id", "tier"]
ACCOUNT_FIELDS: Final[tuple[AccountField, ...]] = get_args(AccountField)


def _account_update_schema(schema: dict[str, Any]) -> None:
    # No field has a default here: an absent field is "unchanged", which JSON Schema cannot say.
    for field in schema["properties"].values():
        field.pop("default", None)
    schema["anyOf"] = [{"required": [field]} for field in ACCOUNT_FIELDS]


class AccountUpdated(_Payload):
    """CRM facts about the account. Send only what changed: a field that is absent keeps the
    account's last value; a field that is null (or blank) clears it; at least one field is needed."""

    # Consumers read an event through ``changes()``: an attribute that is None may be "not sent" or
    # "cleared". The event serialises only the fields it was given, so it reaches the canonical
    # topics (and the next reader's ``changes()``) as it was sent.
    model_config = ConfigDict(json_schema_extra=_account_update_schema)

    name: OptionalDisplayName = None
    owner: OptionalDisplayName = Field(default=None, description="the account manager: an email address or a name")
    segment: Segment = None
    crm_id: OptionalId = None
    tier: Tier = None

    @model_validator(mode="after")
    def _sets_or_clears_a_field(self) -> Self:
        # Unknown keys are ignored, so {"nmae": "Acme"} lands here too rather than doing nothing.
        if not self.model_fields_set:
            raise PydanticCustomError(
                "no_account_fields",
                "account.updated must set or clear (with null) at least one of: {fields}",
                {"fields": ", ".join(ACCOUNT_FIELDS)},
            )
        return self

    @model_serializer(mode="wrap")
    def _only_the_fields_carried(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Defaults written out as null would turn "keep" into "clear" for the next reader.
        dumped: dict[str, Any] = handler(self)
        return {key: value for key, value in dumped.items() if key in self.model_fields_set}

    def changes(self) -> dict[AccountField, str | None]:
        """The fields this event sets (to their new value) or clears (to None), in contract order;
        fields it leaves unchanged are not in it."""
        return {field: getattr(self, field) for field in ACCOUNT_FIELDS if field in self.model_fields_set}

    # pydantic compares attribute values only, so "owner absent" would equal "owner cleared".
    def __eq__(self, other: object) -> bool:
        if isinstance(other, AccountUpdated):
            return self.changes() == other.changes()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self.changes().items()))


def _end_after_start(end_date: date | None, info: ValidationInfo) -> None:
    start_date = info.data.get("start_date")
    if end_date is not None and start_date is not None and end_date <= start_date:
        raise PydanticCustomError(
            "end_date_not_after_start_date",
            "end_date {end_date} must be after start_date {start_date}",
            {"end_date": end_date.isoformat(), "start_date": start_date.isoformat()},
        )


class ContractTerms(_Payload):
    """One term of a contract: the data of contract.signed, contract.renewed and contract.amended."""

    contract_id: Identifier
    arr: Money
    currency: Currency = "USD"
    seats: SeatCount
    # The contract lists products without a default; an empty list is accepted (a contract may be
    # sold per seat before the product mapping exists in the CRM), a missing one defaults to empty.
    products: Products = ()
    start_date: IsoDate
    end_date: IsoDate
    auto_renew: StrictBool = False
    segment: Segment = None

    @field_validator("end_date")
    @classmethod
    def _ends_after_it_starts(cls, end_date: date, info: ValidationInfo) -> date:
        _end_after_start(end_date, info)
        return end_date


class ContractCancelled(_Payload):
    """contract.cancelled: end_date is when service stops; the term fields may be repeated."""

    contract_id: Identifier
    reason: OptionalText = None
    arr: Money | None = None
    # Only meaningful with arr; defaults to USD then (see validator), stays null otherwise.
    currency: Currency | None = Field(default=None, validate_default=True)
    seats: SeatCount | None = None
    products: Products | None = None
    start_date: IsoDate | None = None
    end_date: IsoDate
    auto_renew: StrictBool | None = None
    segment: Segment = None

    @field_validator("currency")
    @classmethod
    def _currency_defaults_with_arr(cls, currency: str | None, info: ValidationInfo) -> str | None:
        if currency is None and info.data.get("arr") is not None:
            return "USD"
        return currency

    @field_validator("end_date")
    @classmethod
    def _ends_after_it_starts(cls, end_date: date, info: ValidationInfo) -> date:
        _end_after_start(end_date, info)
        return end_date


EventData = (
    UsageRecorded
    | InteractionLogged
    | TicketOpened
    | TicketClosed
    | SurveyAnswered
    | ContactChanged
    | AccountUpdated
    | ContractTerms
    | ContractCancelled
)

DATA_MODEL_BY_TYPE: Final[dict[str, type[EventData]]] = {
    "usage.recorded": UsageRecorded,
    "interaction.logged": InteractionLogged,
    "ticket.opened": TicketOpened,
    "ticket.closed": TicketClosed,
    "survey.answered": SurveyAnswered,
    "contact.changed": ContactChanged,
    "account.updated": AccountUpdated,
    "contract.signed": ContractTerms,
    "contract.renewed": ContractTerms,
    "contract.amended": ContractTerms,
    "contract.cancelled": ContractCancelled,
}
