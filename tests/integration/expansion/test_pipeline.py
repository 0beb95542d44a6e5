"""GET /v1/pipeline over opportunities raised from events on the real topics and stored in Postgres:
open ones weighted by stage (a person's qualified counts 0.3), the ones a contract won as outcomes of
the period they were won in, and a consolidated total from the exchange-rate table beside the
per-currency figures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.infra import Infra
from tests.integration.expansion.harness import running, settings_for
from tests.kafka_utils import wait_for
from tests.services import WRITER
from tests.unit.expansion.factories import upsell_story

pytestmark = pytest.mark.integration
WEIGHTS = {"open": Decimal("0.1"), "qualified": Decimal("0.3"), "proposed": Decimal("0.6")}
AS_OF = "2026-07-01T00:00:00Z"



async def test_pipeline_weighs_open_opportunities_and_counts_won_ones_in_their_period(
    infra: Infra, schema: str, unique: str
) -> None:
    grower, buyer = upsell_story(f"grower-{unique}"), upsell_story(f"buyer-{unique}")
    # In event time on each topic, as a live feed writes them (a story lists its feature usage after the
    # days it falls on: produced in that order it would be late, and judged at the latest time).
    events = sorted(grower.events + buyer.events, key=lambda e: str(e["occurred_at"]))
    settings = settings_for(infra, schema=schema, unique=unique, fx_rates='{"base": "EUR", "rates": {"USD": "0.5"}}')
    async with running(settings) as feeder:
        # On the topics before the consumer starts: a backlog is merged across topics in event time, so
        # which triggers fire does not depend on how fetches interleave (a live stream's late events do).
        await feeder.produce(events)
    async with running(settings, consume=True) as expansion:
        await wait_for(lambda: expansion.applied(len(events)), timeout=60, what="every event applied")
        buyer.contract(25, seats=10, products=("core", "planning"), arr="63000", event_type="contract.amended")
        await expansion.produce(buyer.events[-1:])
        await wait_for(lambda: expansion.applied(len(events) + 1), timeout=60, what="the amendment applied")
        seat = (await expansion.rows("SELECT opportunity_id FROM {s}.opportunities WHERE account_id = :a "
                                     "AND kind = 'seat_limit'", a=grower.account_id))[0].opportunity_id
        reply = await expansion.http.patch(f"/v1/opportunities/{seat}", json={"stage": "qualified"}, headers=WRITER)
        assert reply.status_code == 200, reply.text
        rows = await expansion.rows("SELECT stage, estimated_arr_uplift AS uplift, closed_at FROM {s}.opportunities")
        open_rows = [r for r in rows if r.stage in WEIGHTS]
        won = [r for r in rows if r.stage == "won"]
        assert len(won) == 2 and {r.closed_at.date().isoformat() for r in won} == {"2026-06-26"}

        reply = await expansion.http.get("/v1/pipeline", params={"as_of": AS_OF})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        [usd] = body["by_currency"]
        assert usd["currency"] == "USD" and body["period"] is None
        assert usd["total"]["opportunities"] == len(open_rows)
        expected = sum((r.uplift * WEIGHTS[r.stage] for r in open_rows), Decimal(0))
        assert Decimal(usd["total"]["expected_arr"]) == expected.quantize(Decimal("0.01"))
        assert usd["by_stage"]["qualified"]["opportunities"] == 1 and usd["by_stage"]["qualified"]["weight"] == "0.30"
        assert usd["by_outcome"] == {} and sum(b["opportunities"] for b in usd["by_period"].values()) == len(open_rows)
        assert body["consolidated"] == {"currency": "EUR", "arr": str((Decimal(usd["total"]["arr"]) / 2).quantize(
            Decimal("0.01"))), "expected_arr": str((expected / 2).quantize(Decimal("0.01")))}
        assert body["consolidation"]["consolidated"] and body["consolidation"]["rates"] == {"USD": "0.5"}
        assert body["renewal_forecast"] == {"service": "renewals", "method": "GET",
                                            "path": "/v1/forecast?period=2026-Q3"}

        june = (await expansion.http.get("/v1/pipeline", params={"as_of": AS_OF, "period": "2026-06"})).json()
        [usd_june] = june["by_currency"]
        assert usd_june["by_stage"] == {}, "nothing open is expected to close in June"
        assert usd_june["by_outcome"]["won"]["opportunities"] == 2
        assert Decimal(usd_june["by_outcome"]["won"]["expected_arr"]) == sum((r.uplift for r in won), Decimal(0))
        assert june["renewal_forecast"]["path"] == "/v1/forecast?period=2026-06"

        late = (await expansion.http.get("/v1/pipeline", params={"as_of": "2027-01-15T00:00:00Z"})).json()
        assert [c["by_stage"] for c in late["by_currency"]] == [{"qualified": usd["by_stage"]["qualified"]}], \
            "months on, only the one a person moved (progress now, 90 days to go) is still open"

        bad = await expansion.http.get("/v1/pipeline", params={"period": "2026-Q5"})
        assert bad.status_code == 400 and "quarter" in bad.json()["error"]["message"]
