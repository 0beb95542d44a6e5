"""renewals folds only contract events and health records; an account.updated reaching its handler
(it is routed to the interaction topic, which renewals does not read today) is skipped, not
dead-lettered, and changes nothing renewals derives."""

from __future__ import annotations

import pytest

from tests.infra import Infra
from tests.integration.renewals.harness import running, settings_for
from tests.unit.ingest.factories import make_event
from tests.unit.renewals.factories import contract_envelope, terms

pytestmark = pytest.mark.integration

RENEWALS = "SELECT renewal_id, arr, renewal_date, segment, owner, risk FROM {s}.renewals ORDER BY renewal_id"


async def test_account_updated_is_skipped_by_the_renewals_handler(infra: Infra, schema: str, unique: str) -> None:
    account = f"acct-{unique}"
    signed = contract_envelope(account, "signed", terms("c-1", arr="12000", start="2026-01-01", end="2026-12-31"),
                               on="2025-12-20")
    update = make_event("account.updated", account_id=account, occurred_at="2026-02-01T09:00:00Z",
                        data={"owner": "sam@example.com", "segment": None})
    async with running(settings_for(infra, schema=schema, unique=unique)) as renewals:
        await renewals.apply([signed])
        before = await renewals.rows(RENEWALS)
        await renewals.apply([update])  # asserts that nothing was rejected
        after = await renewals.rows(RENEWALS)
    assert before and after == before
