"""account.updated over HTTP against the real broker and database: accepted and on the interaction
topic keyed by account, with "absent" and "null" still apart; a malformed one rejected with field
errors; and the OpenAPI of the running service shows the real envelope schema."""

from __future__ import annotations

import orjson
import pytest
from jsonschema import Draft202012Validator

from shared.events import INPUT_EXAMPLES, AccountUpdated, parse_event
from tests.integration.ingest.harness import Ingest, event_ids
from tests.kafka_utils import read_all
from tests.unit.ingest.factories import make_event

pytestmark = pytest.mark.integration


async def test_account_updated_is_accepted_and_lands_on_the_interaction_topic(ingest: Ingest) -> None:
    sets_and_clears = make_event("account.updated", account_id="acct-au", data={"owner": " sam@example.com ",
                                                                                "crm_id": None})
    reply = await ingest.post(sets_and_clears)
    assert (reply.status_code, reply.json()) == (202, {"accepted": 1, "duplicates": 0, "rejected": []})

    (record,) = await read_all(ingest.bootstrap, ingest.topics.interaction)
    assert record.key == b"acct-au"
    value = orjson.loads(record.value)
    assert (value["event_id"], value["type"]) == (sets_and_clears["event_id"], "account.updated")
    assert value["data"] == {"owner": "sam@example.com", "crm_id": None}, "absent fields stay absent"
    consumed = parse_event(record.value).data
    assert isinstance(consumed, AccountUpdated)
    assert consumed.changes() == {"owner": "sam@example.com", "crm_id": None}
    assert await read_all(ingest.bootstrap, ingest.topics.usage) == []
    assert await read_all(ingest.bootstrap, ingest.topics.contract) == []


async def test_malformed_account_updated_is_rejected_with_field_errors(ingest: Ingest) -> None:
    good = make_event("account.updated", data={"tier": "gold"})
    batch = [
        make_event("account.updated", data={}),
        make_event("account.updated", data={"name": "n" * 201, "crm_id": 42}),
        make_event("account.updated", data={"segmnet": "smb"}),
        good,
    ]
    reply = await ingest.post({"events": batch})
    assert reply.status_code == 202
    body = reply.json()
    assert (body["accepted"], body["duplicates"]) == (1, 0)
    errors = {r["index"]: [(e["loc"], e["type"]) for e in r["errors"]] for r in body["rejected"]}
    assert errors == {
        0: [("data", "no_account_fields")],
        1: [("data.name", "string_too_long"), ("data.crm_id", "string_type")],
        2: [("data", "no_account_fields")],
    }
    assert [r["event_id"] for r in body["rejected"]] == [e["event_id"] for e in batch[:3]]
    assert event_ids(await read_all(ingest.bootstrap, ingest.topics.interaction)) == [good["event_id"]]


async def test_openapi_shows_the_envelope_schema_of_every_type(ingest: Ingest) -> None:
    spec = (await ingest.http.get("/openapi.json")).json()
    content = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    one_event, batch = content["schema"]["oneOf"]
    assert {s["properties"]["type"]["const"] for s in one_event["oneOf"]} == set(INPUT_EXAMPLES)
    assert batch["properties"]["events"]["maxItems"] == ingest.settings.ingest_max_events_per_request
    schema = Draft202012Validator(content["schema"])
    assert schema.is_valid({"events": list(INPUT_EXAMPLES.values())})
    assert not schema.is_valid(make_event("account.updated", data={}))
