"""The data set generators: valid envelopes, deterministic by seed, and the ChurnSim conversion."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from bench.datasets import archetypes
from bench.datasets.churnsim import envelopes
from shared.events import parse_event

pytestmark = pytest.mark.unit


def test_the_archetype_book_is_valid_and_the_same_for_the_same_seed() -> None:
    first = list(archetypes.generate(seed=5, accounts=12, months=6))
    assert first == list(archetypes.generate(seed=5, accounts=12, months=6))
    assert first != list(archetypes.generate(seed=6, accounts=12, months=6))
    for e in first:
        parse_event(e)
    types = {e["type"] for e in first}
    assert {"usage.recorded", "contract.signed", "interaction.logged", "ticket.opened", "survey.answered",
            "contact.changed"} <= types
    assert len({e["event_id"] for e in first}) == len(first)
    assert max(e["occurred_at"] for e in first) < "2025-07-01", "nothing after the book's end"


def test_the_archetype_book_mixes_telemetry_styles() -> None:
    usage = [e for e in archetypes.generate(seed=1, accounts=40, months=4) if e["type"] == "usage.recorded"]
    with_users = {e["account_id"] for e in usage if "user_id" in e["data"]}
    without = {e["account_id"] for e in usage} - with_users
    assert with_users and without
    assert any(e["data"]["feature"] == "storage_gb" for e in usage), "metered quantities in their own units"


def _dump(tmp_path: Path, customer: dict[str, object]) -> Path:
    raw = tmp_path / "raw.jsonl"
    head = {"model": "crm6", "seed": 7, "start": "2022-01-01", "end": "2022-04-01"}
    raw.write_text(json.dumps(head) + "\n" + json.dumps(customer) + "\n")
    return raw


CUSTOMER = {
    "id": 3, "start": "2022-01-10", "channel": "web", "users": 4, "next_renewal": "2022-04-10",
    "service_end": "2022-03-10", "churned": True,
    "subscriptions": [["basic_mthly", "2022-01-10", "2022-02-10", 200.0, 10, "users", 1],
                      ["standard_mthly", "2022-02-10", "2022-03-10", 450.0, 25, "users", 1]],
    "events": [["2022-01-11T08:00:00", "search", 2, None], ["2022-01-11T09:30:00", "search", 0, None],
               ["2022-01-12T10:00:00", "quote", 1, 950.0]],
}


def test_a_churnsim_customer_becomes_contract_and_daily_usage_events(tmp_path: Path) -> None:
    out = list(envelopes(_dump(tmp_path, CUSTOMER), "daily"))
    for e in out:
        parse_event(e)
    contracts = [(e["type"], e["data"].get("arr"), e["data"].get("seats"), e["data"]["end_date"]) for e in out
                 if e["type"].startswith("contract")]
    # the last term as booked ran to the renewal; the churn cut it short at the service end
    assert contracts == [("contract.signed", "2400.0", 10, "2022-02-10"),
                         ("contract.renewed", "5400.0", 25, "2022-04-10"),
                         ("contract.cancelled", None, None, "2022-03-10")]
    usage = [(e["occurred_at"], e["data"]) for e in out if e["type"] == "usage.recorded"]
    assert usage == [("2022-01-11T23:59:59Z", {"feature": "search", "quantity": 2}),
                     ("2022-01-12T23:59:59Z", {"feature": "quote", "quantity": 1})]


def test_event_granularity_keeps_each_event_with_its_user_and_drops_what_follows_the_end(tmp_path: Path) -> None:
    late = {**CUSTOMER, "churned": False, "service_end": "2022-05-10",
            "events": [*CUSTOMER["events"], ["2022-04-02T10:00:00", "search", 1, None]]}  # type: ignore[list-item]
    usage = [e["data"] for e in envelopes(_dump(tmp_path, late), "event") if e["type"] == "usage.recorded"]
    assert usage == [{"feature": "search", "quantity": 1, "user_id": "u2"},
                     {"feature": "search", "quantity": 1, "user_id": "u0"},
                     {"feature": "quote", "quantity": 1, "user_id": "u1"}]
    assert not [e for e in envelopes(_dump(tmp_path, late), "event") if e["type"] == "contract.cancelled"]
    assert list(itertools.islice(envelopes(_dump(tmp_path, late), "event", every=2), 1)) == []
