"""``orchard accounts list`` and ``orchard accounts show`` against the running services."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.cli.stack import READER_KEY, Stack, ending_today
from tests.integration.health.harness import healthy

pytestmark = pytest.mark.e2e


def test_list_filters_like_the_health_api_and_show_gathers_the_account_from_every_service(
    stack: Stack, tmp_path: Path
) -> None:
    segment = f"seg{uuid.uuid4().hex[:8]}"  # a segment of this test's own: the list holds only its accounts
    good, quiet = f"good-{segment}", f"quiet-{segment}"
    steady = healthy(good, days=40, segment=segment)
    lonely = healthy(quiet, days=40, segment=segment)
    lonely.events = [e for e in lonely.events if e["type"] in ("contract.signed", "contact.changed")][:3]
    stack.feed(ending_today(steady.events) + ending_today(lonely.events), tmp_path)
    stack.scored(good)
    stack.scored(quiet)

    listed = stack.orchard("accounts", "list", "--segment", segment, "--sort=-score", "--json", api_key=READER_KEY)
    assert listed.returncode == 0, listed.stderr
    accounts = listed.json()
    assert [a["account_id"] for a in accounts] == [good, quiet], "sorted best first, this segment only"
    assert accounts[0]["score"] - accounts[1]["score"] > 10, accounts
    between = (accounts[0]["score"] + accounts[1]["score"]) / 2
    worst_only = stack.orchard("accounts", "list", "--segment", segment, "--max-score", f"{between:.1f}", "--json")
    assert [a["account_id"] for a in worst_only.json()] == [quiet]
    table = stack.orchard("accounts", "list", "--segment", segment)
    assert table.returncode == 0 and good in table.stdout and "2 accounts" in table.stdout

    shown = stack.orchard("accounts", "show", good, "--json", api_key=READER_KEY)
    assert shown.returncode == 0, shown.stderr
    picture = shown.json()
    health = stack.get("health", f"/v1/accounts/{good}/health").json()
    assert picture["health"]["score"] == health["score"] and picture["health"]["reasons"] == health["reasons"]
    assert [r["contract_id"] for r in picture["renewals"]] == [f"{good}-k1"]
    expansion = stack.get("expansion", f"/v1/accounts/{good}/opportunities").json()["items"]
    assert picture["opportunities"] == expansion
    timeline = stack.get("health", f"/v1/accounts/{good}/timeline", limit=50).json()["items"]
    assert timeline and picture["timeline"] == timeline, "the latest page of the account's timeline"

    pretty = stack.orchard("accounts", "show", good)
    assert pretty.returncode == 0, pretty.stderr
    assert f"account {good}" in pretty.stdout and "Components" in pretty.stdout and "Renewals" in pretty.stdout
    assert "Timeline (newest first)" in pretty.stdout and timeline[0]["summary"][:30] in pretty.stdout
    assert health["reasons"][0]["detail"][:40] in pretty.stdout


def test_show_an_unknown_account_fails_clearly(stack: Stack) -> None:
    done = stack.orchard("accounts", "show", f"nobody-{uuid.uuid4().hex[:8]}")

    assert done.returncode == 1
    assert "knows no account" in done.stderr and "accounts list" in done.stderr
