"""Deterministic ids of output events and alerts: one function, uuid5 of the condition's parts.

Two namespaces exist and both are fixed for ever, because an id is what consumers de-duplicate by:
changing how any id is made shows a replay's alerts as new. Health's churn-risk alerts were named
in a namespace of their own, with the parts joined by "|" (``account|kind|#n``); every other id
(renewals' and expansion's alerts, upsell triggers, opportunities, renewals, ``health.changed``) in
the Orchard namespace, with the parts JSON-encoded as a list (so ("a:b", "c") and ("a", "b:c")
differ). The values are pinned in tests/unit/events/test_pinned_ids.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final, Literal

import orjson


@dataclass(frozen=True, slots=True)
class IdNamespace:
    """A uuid5 namespace and how an id's parts become the name hashed in it."""

    uuid: uuid.UUID
    joining: Literal["json", "pipe"]

    def name(self, parts: tuple[str, ...]) -> str:
        if self.joining == "json":
            return orjson.dumps(parts).decode()
        # Ambiguous when a part holds a "|", but these are the ids health has always published.
        return "|".join(parts)


ORCHARD_NAMESPACE: Final = uuid.UUID("0065dad5-9b6d-4a6c-8c15-443403957969")
ORCHARD_IDS: Final = IdNamespace(ORCHARD_NAMESPACE, "json")
HEALTH_ALERT_IDS: Final = IdNamespace(uuid.UUID("5b0e7a3c-2f64-4c1d-9e8a-7d3f1b6c0a92"), "pipe")
"""Health's churn-risk alert ids and their events' ids (raised, escalated, resolved)."""


def deterministic_event_id(*parts: str, namespace: IdNamespace = ORCHARD_IDS) -> str:
    """A stable id for the condition named by ``parts`` (e.g. account, rule, episode)."""
    if not parts:
        raise ValueError("deterministic_event_id needs at least one part")
    for part in parts:
        if not isinstance(part, str):
            raise TypeError(f"deterministic_event_id parts must be str, got {type(part).__name__}")
    return str(uuid.uuid5(namespace.uuid, namespace.name(parts)))
