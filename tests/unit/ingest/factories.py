"""Valid input events of every contract type, with overrides; used by the unit and integration tests."""

from __future__ import annotations

import uuid
from typing import Any

from shared.events import EVENT_TYPES

_TERMS = {
    "contract_id": "C-1",
    "arr": "120000.50",
    "currency": "EUR",
    "seats": 50,
    "products": ["core", "analytics"],
    "start_date": "2026-01-01",
    "end_date": "2027-01-01",
    "auto_renew": True,
    "segment": "enterprise",
}
GOOD_DATA: dict[str, dict[str, Any]] = {
    "usage.recorded": {"user_id": "u-1", "feature": "reports.export", "quantity": 3, "product": "analytics"},
    "interaction.logged": {"channel": "qbr", "direction": "outbound", "sentiment": 0.6, "summary": "QBR held"},
    "ticket.opened": {"ticket_id": "T-1", "severity": "high", "subject": "Export fails"},
    "ticket.closed": {"ticket_id": "T-1", "resolution": "fixed in 4.2"},
    "survey.answered": {"kind": "nps", "score": 9, "contact_id": "ct-1"},
    "contact.changed": {"contact_id": "ct-1", "role": "champion", "change": "left"},
    "account.updated": {"owner": "sam@example.com", "tier": "gold", "crm_id": None},
    "contract.signed": _TERMS,
    "contract.renewed": _TERMS,
    "contract.amended": _TERMS,
    "contract.cancelled": {"contract_id": "C-1", "end_date": "2027-01-01", "reason": "budget cut"},
}
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
        "data": dict(GOOD_DATA[event_type]),
    }
    for name, value in overrides.items():
        if value is DROP:
            event.pop(name, None)
        else:
            event[name] = value
    return event
