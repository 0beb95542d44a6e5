"""Field-level validation errors for contract events.

Every rejection (HTTP reply item, DLQ record) carries a list of ``FieldError``: a dotted location, a
human-readable message and a stable machine-readable type. The types are pydantic's own where one
fits (``missing``, ``string_too_short``, ``literal_error`` ...) and Orchard's where the contract
adds a rule (``unknown_event_type``, ``timestamp_without_offset`` ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from pydantic import ValidationError

# Whole-payload problems (size, encoding, JSON syntax) have no field to point at.
ROOT_LOC = ""

_SUMMARY_MAX_ERRORS = 5
_PREVIEW_CHARS = 64


class FieldError(TypedDict):
    loc: str
    msg: str
    type: str


class EventValidationError(ValueError):
    """An input event that breaks the contract; ``errors`` lists every problem found."""

    def __init__(self, errors: Sequence[FieldError], event_id: str | None = None) -> None:
        self.errors: list[FieldError] = list(errors)
        self.event_id = event_id
        super().__init__(self._summary())

    def __reduce__(self) -> tuple[type[EventValidationError], tuple[list[FieldError], str | None]]:
        return (type(self), (self.errors, self.event_id))

    def _summary(self) -> str:
        subject = f"event {self.event_id!r}" if self.event_id is not None else "event"
        shown = "; ".join(
            f"{err['loc'] or '<payload>'}: {err['msg']} [{err['type']}]" for err in self.errors[:_SUMMARY_MAX_ERRORS]
        )
        hidden = len(self.errors) - _SUMMARY_MAX_ERRORS
        more = f"; and {hidden} more" if hidden > 0 else ""
        count = len(self.errors)
        return f"{subject} rejected, {count} error{'s' if count != 1 else ''}: {shown}{more}"


def field_error(loc: str, msg: str, type_: str) -> FieldError:
    return FieldError(loc=loc, msg=msg, type=type_)


def field_errors_from(exc: ValidationError) -> list[FieldError]:
    return [
        FieldError(loc=".".join(str(part) for part in err["loc"]), msg=err["msg"], type=err["type"])
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def preview(value: object) -> str:
    """A short repr of an input value for an error message (inputs may be huge or hostile)."""
    text = repr(value)
    return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 3] + "..."
