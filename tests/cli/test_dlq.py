"""``orchard dlq list`` and ``orchard dlq replay``: ingest's own dead letters, filtered; and a dead
letter whose cause was fixed, re-sent and applied once however often it is replayed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from shared.dlq import dead_letter
from tests.cli.stack import READER_KEY, Stack
from tests.kafka_utils import envelope, produce, read_all

pytestmark = pytest.mark.e2e


async def test_list_shows_why_ingest_dead_lettered_records_and_filters_them(stack: Stack) -> None:
    account = f"dlq-{uuid.uuid4().hex[:8]}"
    missing_type = orjson.loads(envelope(event_id=f"{account}-1", account_id=account))
    del missing_type["type"]
    await produce(stack.infra.kafka_bootstrap, stack.topic("RAW"),
                  [(account, b"{not json"), (account, orjson.dumps(missing_type))])

    def listed() -> list[dict[str, object]] | None:
        done = stack.orchard("dlq", "list", "--account", account, "--json", api_key=None)
        assert done.returncode == 0, done.stderr
        letters: list[dict[str, object]] = done.json()
        return letters if len(letters) == 2 else None

    letters = stack.wait("ingest to dead-letter both records", listed, timeout=60)
    assert {d["service"] for d in letters} == {"ingest"}
    assert {d["source_topic"] for d in letters} == {stack.topic("RAW")}
    assert all(d["error"] for d in letters)
    assert {d["original_event_id"] for d in letters} == {None, f"{account}-1"}

    kind = str(letters[0]["error_kind"])
    same_kind = stack.orchard("dlq", "list", "--account", account, "--kind", kind, "--json").json()
    assert same_kind and all(d["error_kind"] == kind for d in same_kind)
    assert len(stack.orchard("dlq", "list", "--account", account, "--since", "1h", "--json").json()) == 2
    assert stack.orchard("dlq", "list", "--account", account, "--until", "1h", "--json").json() == []
    assert stack.orchard("dlq", "list", "--account", account, "--source-topic", "elsewhere", "--json").json() == []
    pretty = stack.orchard("dlq", "list", "--account", account)
    assert "2 dead letters" in pretty.stdout and f"{account}-1" in pretty.stdout
    bad_time = stack.orchard("dlq", "list", "--since", "yesterday")
    assert bad_time.returncode == 2 and "not a time" in bad_time.stderr


async def test_replay_resends_the_original_once_the_cause_is_fixed_and_a_repeat_changes_nothing(
    stack: Stack,
) -> None:
    account = f"replay-{uuid.uuid4().hex[:8]}"
    original = envelope(event_id=f"{account}-e1", account_id=account, type="contract.signed", data={
        "contract_id": f"{account}-k", "arr": "36000", "seats": 12, "products": ["core"],
        "start_date": "2026-08-01", "end_date": "2027-07-31"}, occurred_at=datetime(2026, 8, 1, tzinfo=UTC))
    # What a service writes when a bug (since fixed) made it fail on a valid event.
    letter = dead_letter(service="health", dlq_topic=stack.topic("DLQ"), raw=original, key=account.encode(),
                         error="RuntimeError: a bug since fixed", error_kind="handler",
                         source_topic=stack.topic("CONTRACT"), partition=0, offset=7, failed_at=datetime.now(UTC))
    await produce(stack.infra.kafka_bootstrap, stack.topic("DLQ"), [(letter.key, letter.value)])

    dry = stack.orchard("dlq", "replay", "--account", account, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert [d["original_event_id"] for d in dry.json()["dead_letters"]] == [f"{account}-e1"]
    raw_keys = [r.key for r in await read_all(stack.infra.kafka_bootstrap, stack.topic("RAW"))]
    assert account.encode() not in raw_keys, "a dry run sends nothing"

    replayed = stack.orchard("dlq", "replay", "--account", account, "--service", "health")
    assert replayed.returncode == 0, replayed.stderr
    assert "Re-sent 1 of 1" in replayed.stdout and stack.topic("RAW") in replayed.stdout
    health = stack.scored(account)
    assert health["arr"] is not None and float(health["arr"]) == 36000

    again = stack.orchard("dlq", "replay", "--account", account, "--to", "http", "--json")
    assert again.returncode == 0, again.stderr
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 1), "ingest knows the event id"
    contract_copies = [r for r in await read_all(stack.infra.kafka_bootstrap, stack.topic("CONTRACT"))
                       if r.key == account.encode()]
    assert len(contract_copies) == 1

    refused = stack.orchard("dlq", "replay", "--account", account, "--to", "http", api_key=READER_KEY)
    assert refused.returncode == 1 and "ingest:write" in refused.stderr
