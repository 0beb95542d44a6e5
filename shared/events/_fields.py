"""Reusable field types for the contract models: trimming, timestamps, dates, money, enums.

Validators here run on the hot path, so each is a plain function doing the least work that gives a
precise error; anything pydantic-core can do natively (length, ranges, strictness) is left to it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from shared.events._errors import preview

TIMESTAMP_EXAMPLE = "2026-11-20T09:30:00Z"

# Lengths the contract does not fix are chosen generously: they exist so one field cannot carry
# megabytes into every table and log line, not to second-guess producers.
ID_MAX = 128
NAME_MAX = 256
# The contract's limit for the display names of accounts, their owners and contacts.
DISPLAY_NAME_MAX = 200
SEGMENT_MAX = 64
TIER_MAX = 64
TEXT_MAX = 10_000
SUMMARY_MAX = 2_000
# Fits a PostgreSQL `integer`; larger seat counts are a producer bug, not a customer.
SEATS_MAX = 2_147_483_647
# Sanity bounds for money: beyond them a value is a unit mistake and would poison sums downstream.
MONEY_MAX = Decimal(10) ** 15
MONEY_PLACES = 6


# JSON Schema for the published schemas (docs/schemas, shared/events/schemas.py). `pattern` is used
# rather than `format` alone because most validators treat `format` as an annotation only.
RFC3339_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
ISO_DATE_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_TIMESTAMP_SCHEMA = {
    "type": "string",
    "format": "date-time",
    "pattern": RFC3339_PATTERN,
    "description": f"RFC 3339 timestamp with a UTC offset, e.g. {TIMESTAMP_EXAMPLE}",
}
_DATE_SCHEMA = {"type": "string", "format": "date", "pattern": ISO_DATE_PATTERN, "description": "YYYY-MM-DD"}
_CURRENCY_SCHEMA = {"type": "string", "pattern": "^[A-Za-z]{3}$", "description": "ISO 4217 code, e.g. USD"}


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _empty_to_none(value: str | None) -> str | None:
    return value or None


def _lower_or_none(value: str | None) -> str | None:
    return value.lower() if value else None


def _unique_in_order(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def parse_timestamp(value: object) -> datetime:
    """RFC 3339 with an explicit offset (or an aware datetime), normalised to UTC."""
    if isinstance(value, datetime):
        parsed = value
        shown = value.isoformat()
    elif isinstance(value, str):
        text = value.strip()
        shown = text
        parsed = _parse_rfc3339(text)
    else:
        raise PydanticCustomError(
            "datetime_type",
            "must be an RFC 3339 timestamp string with offset, e.g. {example}; got {kind}",
            {"example": TIMESTAMP_EXAMPLE, "kind": _type_name(value)},
        )
    if parsed.utcoffset() is None:
        raise PydanticCustomError(
            "timestamp_without_offset",
            "timestamp {value} has no UTC offset; add 'Z' or '+hh:mm', e.g. {example}",
            {"value": preview(shown), "example": TIMESTAMP_EXAMPLE},
        )
    if parsed.tzinfo is not UTC:
        try:
            parsed = parsed.astimezone(UTC)
        except OverflowError:
            raise PydanticCustomError(
                "datetime_out_of_range",
                "timestamp {value} is out of range once converted to UTC",
                {"value": preview(shown)},
            ) from None
    return parsed


def _parse_rfc3339(text: str) -> datetime:
    # fromisoformat alone would also take dates, week dates, hour-only times and compact forms;
    # RFC 3339 wants YYYY-MM-DDTHH:MM:SS, so the separators are checked first.
    if (
        len(text) >= 19
        and text[4] == "-"
        and text[7] == "-"
        and text[10] in "Tt "
        and text[13] == ":"
        and text[16] == ":"
    ):
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            try:  # RFC 3339 allows lower-case 't' and 'z'; fromisoformat does not.
                return datetime.fromisoformat(text.upper())
            except ValueError:
                pass
    raise PydanticCustomError(
        "datetime_parsing",
        "must be an RFC 3339 timestamp with offset, e.g. {example}; got {value}",
        {"example": TIMESTAMP_EXAMPLE, "value": preview(text)},
    )


def parse_iso_date(value: object) -> date:
    """A calendar date as YYYY-MM-DD (or a date object); never a timestamp or a number."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
        raise PydanticCustomError(
            "date_parsing", "must be an ISO 8601 date (YYYY-MM-DD); got {value}", {"value": preview(text)}
        )
    raise PydanticCustomError(
        "date_type", "must be an ISO 8601 date string (YYYY-MM-DD); got {kind}", {"kind": _type_name(value)}
    )


def _normalise_currency(code: str) -> str:
    upper = code.upper()
    if len(upper) != 3 or not upper.isascii() or not upper.isalpha():
        raise PydanticCustomError(
            "invalid_currency",
            "must be a 3-letter ISO 4217 currency code such as USD; got {value}",
            {"value": preview(code)},
        )
    return upper


def _normalise_money(amount: Decimal) -> Decimal:
    # "1E+3" and "-0" are valid input but awkward output; store plain "1000" and "0".
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        amount = amount.quantize(Decimal(1))
    return amount if amount else abs(amount)


# --- strings (surrounding whitespace is stripped by the models' str_strip_whitespace) ---
Identifier = Annotated[str, Field(min_length=1, max_length=ID_MAX)]
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX)]
OptionalId = Annotated[Annotated[str, Field(max_length=ID_MAX)] | None, AfterValidator(_empty_to_none)]
OptionalName = Annotated[Annotated[str, Field(max_length=NAME_MAX)] | None, AfterValidator(_empty_to_none)]
OptionalDisplayName = Annotated[
    Annotated[str, Field(max_length=DISPLAY_NAME_MAX)] | None, AfterValidator(_empty_to_none)
]
Tier = Annotated[Annotated[str, Field(max_length=TIER_MAX)] | None, AfterValidator(_empty_to_none)]
OptionalText = Annotated[Annotated[str, Field(max_length=TEXT_MAX)] | None, AfterValidator(_empty_to_none)]
Summary = Annotated[Annotated[str, Field(max_length=SUMMARY_MAX)] | None, AfterValidator(_empty_to_none)]
Segment = Annotated[Annotated[str, Field(max_length=SEGMENT_MAX)] | None, AfterValidator(_lower_or_none)]
Products = Annotated[tuple[Name, ...], AfterValidator(_unique_in_order)]
Currency = Annotated[str, AfterValidator(_normalise_currency), WithJsonSchema(_CURRENCY_SCHEMA)]

# --- time ---
Timestamp = Annotated[datetime, BeforeValidator(parse_timestamp), WithJsonSchema(_TIMESTAMP_SCHEMA)]
IsoDate = Annotated[date, BeforeValidator(parse_iso_date), WithJsonSchema(_DATE_SCHEMA)]

# --- numbers: JSON numbers only (strict: no "3", no true), finite ---
NonNegativeNumber = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]
Sentiment = Annotated[float, Field(strict=True, ge=-1.0, le=1.0, allow_inf_nan=False)]
SeatCount = Annotated[int, Field(strict=True, ge=0, le=SEATS_MAX)]
# The contract allows "decimal string or number" for money, so this one is not strict.
Money = Annotated[
    Decimal,
    Field(ge=0, le=MONEY_MAX, decimal_places=MONEY_PLACES, allow_inf_nan=False),
    AfterValidator(_normalise_money),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": int(MONEY_MAX)},
                {"type": "string", "pattern": rf"^[0-9]+(\.[0-9]{{1,{MONEY_PLACES}}})?$"},
            ],
            "description": f"a non-negative amount: a JSON number or a decimal string, at most {MONEY_PLACES} places",
        },
        mode="validation",
    ),
]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
StrictBool = Annotated[bool, Field(strict=True)]
StrictInt = Annotated[int, Field(strict=True)]

# --- enumerations (tokens are exact lower-case words; surrounding whitespace is forgiven) ---
Channel = Annotated[Literal["email", "meeting", "call", "qbr", "chat", "other"], BeforeValidator(_strip)]
Direction = Annotated[Literal["inbound", "outbound"], BeforeValidator(_strip)]
TicketSeverity = Annotated[Literal["low", "normal", "high", "urgent"], BeforeValidator(_strip)]
SurveyKind = Annotated[Literal["nps", "csat"], BeforeValidator(_strip)]
ContactRole = Annotated[Literal["champion", "exec_sponsor", "decision_maker", "admin", "user"], BeforeValidator(_strip)]
ContactChange = Annotated[Literal["joined", "left", "role_changed"], BeforeValidator(_strip)]
