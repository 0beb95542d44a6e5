"""Valid input events of every contract type, with overrides; used by the unit and integration tests."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from shared.events import EVENT_TYPES, INPUT_EXAMPLES

# The published examples (docs/asyncapi.yaml, the ingest OpenAPI): one valid `data` per type.
GOOD_DATA: dict[str, dict[str, Any]] = {event_type: example["data"] for event_type, example in INPUT_EXAMPLES.items()}
assert set(GOOD_DATA) == EVENT_TYPES

KIND_BY_TYPE = {
    "usage.recorded": "usage",
    **{t: "interaction" for t in ("interaction.logged", "ticket.opened", "ticket.closed", "survey.answered",
                                  "contact.changed", "account.updated")},
    **{t: "contract" for t in ("contract.signed", "contract.renewed", "contract.amended", "contract.cancelled")},
}

DROP = object()  # an override that removes the field


def make_event(event_type: str = "usage.recorded", **overrides: Any) -> dict[str, Any]:
    """A valid envelope with a random event id; keyword arguments replace fields (``DROP`` removes one)."""
    event: dict[str, Any] = {
        "event_id": f"evt-{uuid.uuid4().hex[:12]}",
        "type": event_type,
        "schema_version": 1,
        "account_id": "acct-1",
        "occurred_at": "2026-11-20T09:00:00Z",
        "source": "tests",
        "data": copy.deepcopy(GOOD_DATA[event_type]),
    }
    for name, value in overrides.items():
        if value is DROP:
            event.pop(name, None)
        else:
            event[name] = value
    return event
