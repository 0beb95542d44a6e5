"""Contract events: each type's topic, and deterministic event ids."""

from __future__ import annotations

import uuid

import pytest

from shared.events import (
    EVENT_TYPES,
    deterministic_event_id,
    topic_kind,
)

pytestmark = pytest.mark.unit


# --- topic routing -------------------------------------------------------------------------------

TOPIC_KINDS = {
    "usage.recorded": "usage",
    "interaction.logged": "interaction",
    "ticket.opened": "interaction",
    "ticket.closed": "interaction",
    "survey.answered": "interaction",
    "contact.changed": "interaction",
    "account.updated": "interaction",
    "contract.signed": "contract",
    "contract.renewed": "contract",
    "contract.amended": "contract",
    "contract.cancelled": "contract",
}


@pytest.mark.parametrize(("event_type", "kind"), sorted(TOPIC_KINDS.items()))
def test_topic_kind(event_type: str, kind: str) -> None:
    assert topic_kind(event_type) == kind


def test_every_event_type_has_a_topic() -> None:
    assert set(TOPIC_KINDS) == EVENT_TYPES


@pytest.mark.parametrize("event_type", ["billing.paid", "usage", "usage.", ""], ids=repr)
def test_topic_kind_rejects_unknown_types(event_type: str) -> None:
    with pytest.raises(ValueError, match="no canonical topic"):
        topic_kind(event_type)


# --- deterministic ids ---------------------------------------------------------------------------


def test_deterministic_event_id_is_stable() -> None:
    first = deterministic_event_id("acc-1", "score_drop", "2026-11-20")
    assert first == deterministic_event_id("acc-1", "score_drop", "2026-11-20")
    # Pinned: a change here would re-key every derived event already published.
    assert first == "abf94933-a6c7-535a-8106-a12d5b5f9895"
    assert uuid.UUID(first).version == 5


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("acc-1", "score_drop"), ("acc-2", "score_drop")),
        (("acc-1", "score_drop"), ("score_drop", "acc-1")),
        (("a:b", "c"), ("a", "b:c")),
        (("a", "b"), ("ab",)),
        (("a",), ("a", "")),
    ],
    ids=["different-account", "order-matters", "separator-inside-part", "joined-parts", "empty-part"],
)
def test_deterministic_event_id_is_distinct(left: tuple[str, ...], right: tuple[str, ...]) -> None:
    assert deterministic_event_id(*left) != deterministic_event_id(*right)


def test_deterministic_event_id_needs_string_parts() -> None:
    with pytest.raises(ValueError):
        deterministic_event_id()
    with pytest.raises(TypeError):
        deterministic_event_id("acc-1", 7)  # type: ignore[arg-type]
