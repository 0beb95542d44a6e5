"""Override history through the API and the real database: set, changed, expired (nobody acted: shown
from its expiry, recorded when the next change comes) and removed, each with who (the API key's
name) and why, newest first, paginated and filtered by kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration.health.harness import Health, healthy
from tests.services import WRITER

pytestmark = pytest.mark.integration


async def history(health: Health, account_id: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        reply = await health.http.get(f"/v1/accounts/{account_id}/overrides/history", params=query)
        assert reply.status_code == 200, reply.text
        items += reply.json()["items"]
        cursor = reply.json()["next_cursor"]
        if cursor is None:
            return items


async def test_every_override_set_changed_expired_or_removed_is_kept_with_who_and_why(health: Health) -> None:
    await health.apply(healthy("ov-acct", days=5).events)
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()

    async def put(kind: str, value: Any, reason: str) -> None:
        body = {"value": value, "reason": reason, "expires_at": later}
        reply = await health.http.put(f"/v1/accounts/ov-acct/overrides/{kind}", json=body, headers=WRITER)
        assert reply.status_code == 200, reply.text

    await put("grade", "green", "renewal signed verbally")
    await put("grade", "yellow", "the CFO hesitates")
    await put("sentiment", 80, "great QBR")
    # two days pass, and the sentiment override runs out (yesterday) with nobody acting
    async with health.service.runtime.engine.begin() as conn:
        await conn.execute(sa.text(f'UPDATE "{health.schema}".override_history SET at = at - interval \'2 days\''))
        await conn.execute(sa.text(f'UPDATE "{health.schema}".overrides SET set_at = set_at - interval \'2 days\', '
                                   "expires_at = CASE kind WHEN 'sentiment' THEN now() - interval '1 day' "
                                   "ELSE expires_at END"))
    shown = await history(health, "ov-acct")
    assert [(e["kind"], e["action"], e["by"]) for e in shown] == [
        ("sentiment", "expired", "system"), ("sentiment", "set", "writer"),
        ("grade", "changed", "writer"), ("grade", "set", "writer")]
    assert shown[2]["reason"] == "the CFO hesitates" and shown[2]["value"] == "yellow"

    await put("sentiment", 60, "support escalation")  # over the run-out one: its expiry is recorded now
    removed = await health.http.delete("/v1/accounts/ov-acct/overrides/grade", params={"reason": "signed"},
                                       headers=WRITER)
    assert removed.status_code == 204
    shown = await history(health, "ov-acct")
    assert [(e["kind"], e["action"]) for e in shown] == [
        ("grade", "removed"), ("sentiment", "set"), ("sentiment", "expired"), ("sentiment", "set"),
        ("grade", "changed"), ("grade", "set")]
    assert (shown[0]["by"], shown[0]["reason"], shown[0]["value"]) == ("writer", "signed", "yellow")
    assert [e["action"] for e in await history(health, "ov-acct", kind="sentiment")] == ["set", "expired", "set"]
    assert (await health.http.get("/v1/accounts/nobody/overrides/history")).status_code == 404
