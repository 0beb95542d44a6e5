"""The batch handler: usage, interaction and contract events, and the account's health and churn-risk
records (`inputs.py`), in; account signals, held triggers, opportunities, `upsell.triggered` events and
revenue_health_divergence alerts (on the churn-risk topic) out. Follow one event:
`ExpansionHandler.__call__` groups the batch by account, `fold_accounts` hands each account's new events
to `domain.decide`, which folds them one at a time and runs the rules after each, at its event time (so
batch boundaries change nothing), and the opportunities opened are inserted and announced, those won by
a contract or expired are closed.

Per batch, whatever its size: one statement locks and loads the accounts, one reads their latest
opportunity episodes, one saves the signals, one inserts the new opportunities, one closes the closed
ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.expansion import outputs
from services.expansion.domain import (
    Catalogue,
    Closed,
    Decided,
    ExpansionSignals,
    NewOpportunity,
    Thresholds,
    decide,
)
from services.expansion.domain.divergence import DivergenceAlert
from services.expansion.inputs import ExpansionInput, signal_event
from services.expansion.store import (
    ExpansionTables,
    close_opportunities,
    insert_opportunities,
    latest_episodes,
    lock_and_load_accounts,
    save_signals,
)
from shared.accounts import by_account, fold_accounts
from shared.clock import Clock, utc_now
from shared.consumer import BatchContext, ConsumedEvent


@dataclass(frozen=True)
class ExpansionHandler:
    tables: ExpansionTables
    catalogue: Catalogue
    thresholds: Thresholds
    upsell_topic: str
    churn_risk_topic: str
    clock: Clock = utc_now
    """Wall-clock time, for `emitted_at` only; triggers are judged at event time."""

    async def __call__(self, ctx: BatchContext, events: Sequence[ConsumedEvent[ExpansionInput]]) -> None:
        grouped = by_account(events)
        account_ids = list(grouped)
        stored = await lock_and_load_accounts(ctx.session, self.tables, account_ids)
        episodes = await latest_episodes(ctx.session, self.tables, account_ids)

        folded: dict[str, ExpansionSignals] = {}
        opened: list[NewOpportunity] = []
        closed: list[Closed] = []
        alerts: list[DivergenceAlert] = []
        decisions = fold_accounts(
            grouped, ctx, apply=self._decide,
            start=lambda a: Decided(stored.get(a) or ExpansionSignals(), episodes.get(a, {})))
        for account_id, (decided, _) in decisions.items():
            folded[account_id] = decided.signals
            opened += decided.opened
            closed += decided.closed
            alerts += decided.alerts
        await save_signals(ctx.session, self.tables, folded)
        inserted = await insert_opportunities(ctx.session, self.tables, opened)
        await close_opportunities(ctx.session, self.tables, closed)
        now = self.clock()
        outputs.emit(ctx.outbox, [o for o in opened if o.opportunity_id in inserted], topic=self.upsell_topic,
                     emitted_at=now)
        outputs.emit_divergence(ctx.outbox, alerts, topic=self.churn_risk_topic, emitted_at=now)

    def _decide(self, account_id: str) -> Callable[[Decided, Sequence[ConsumedEvent[ExpansionInput]]], Decided]:
        def apply(state: Decided, events: Sequence[ConsumedEvent[ExpansionInput]]) -> Decided:
            # In the order consumed: the runner's merge already puts them in event time (inputs before
            # the health records they tie with), and a late event (one behind the account's latest) is
            # judged at the latest event time, whichever batch it came in. Sorting a batch would reorder
            # late events inside it but not across batches: decisions would depend on batch boundaries.
            signal_events = [signal_event(e) for e in events]
            return decide(state, account_id, signal_events, catalogue=self.catalogue, thresholds=self.thresholds)
        return apply
