"""The batch handler: usage, interaction and contract events, and the account's health and churn-risk
records (`inputs.py`), in; account signals, held triggers, opportunities, `upsell.triggered` events and
revenue_health_divergence alerts (on the churn-risk topic) out. Follow one event:
`ExpansionHandler` (a `shared.accounts.AccountFold`) groups the batch by account, its `apply` hands each
account's new events to `domain.decide`, which folds them one at a time and runs the rules after each, at
its event time (so batch boundaries change nothing), and its `store` inserts and announces the
opportunities opened and closes those won by a contract or expired.

Per batch, whatever its size: one statement locks and loads the accounts, one reads their latest
opportunity episodes, one saves the signals, one inserts the new opportunities, one closes the closed
ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from services.expansion import outputs
from services.expansion.domain import (
    NO_HISTORY,
    Catalogue,
    Decided,
    ExpansionSignals,
    LatestEpisode,
    NewOpportunity,
    Thresholds,
    decide,
)
from services.expansion.domain.cohorts import NormsAt
from services.expansion.inputs import ExpansionInput, signal_event
from services.expansion.norms_store import ExpansionNorms
from services.expansion.store import (
    ExpansionTables,
    account_signals,
    close_opportunities,
    insert_opportunities,
    latest_episodes,
)
from shared.accounts import AccountFold, latest_per_partition
from shared.clock import Clock, utc_now
from shared.consumer import BatchContext, ConsumedEvent
from shared.watermarks import advance_watermarks

Stored = tuple[dict[str, ExpansionSignals], dict[str, dict[tuple[str, str], LatestEpisode]]]
"""The batch's accounts' signals and their latest opportunity episodes."""


@dataclass(frozen=True)
class ExpansionHandler(AccountFold[Stored, Decided, ConsumedEvent[ExpansionInput]]):
    tables: ExpansionTables
    catalogue: Catalogue
    thresholds: Thresholds
    upsell_topic: str
    churn_risk_topic: str
    norms: ExpansionNorms | None = None
    """The cohort norms kept by the service; None: none (usage_level never fires, usage_growth judges
    the account's own growth only)."""
    clock: Clock = utc_now
    """Wall-clock time, for `emitted_at` only; triggers are judged at event time."""
    _in_force: list[NormsAt] = field(default_factory=lambda: [NO_HISTORY], init=False, repr=False, compare=False)
    """The norm versions the batch being folded read (set by `before_fold`: one batch at a time)."""

    async def load(self, session: AsyncSession, account_ids: list[str]) -> Stored:
        return (await account_signals.lock_and_load(session, self.tables, account_ids),
                await latest_episodes(session, self.tables, account_ids))

    async def before_fold(self, ctx: BatchContext, events: Sequence[ConsumedEvent[ExpansionInput]]) -> None:
        # The watermarks move before the norms are read: a norms build waits for this batch, or this
        # batch for it and then sees its version (which is in force only after every event it judges).
        await advance_watermarks(ctx.session, self.tables.stream_watermarks, latest_per_partition(events))
        if self.norms is not None:
            self._in_force[0] = await self.norms.history(ctx.session)

    def start(self, account_id: str, *, loaded: Stored) -> Decided:
        signals, episodes = loaded
        return Decided(signals.get(account_id) or ExpansionSignals(), episodes.get(account_id, {}))

    def apply(self, account_id: str, state: Decided, events: Sequence[ConsumedEvent[ExpansionInput]]) -> Decided:
        # In the order consumed: the runner's merge already puts them in event time (inputs before
        # the health records they tie with), and a late event (one behind the account's latest) is
        # judged at the latest event time, whichever batch it came in. Sorting a batch would reorder
        # late events inside it but not across batches: decisions would depend on batch boundaries.
        signal_events = [signal_event(e) for e in events]
        return decide(state, account_id, signal_events, catalogue=self.catalogue, thresholds=self.thresholds,
                      norms=self._in_force[0])

    async def store(self, ctx: BatchContext,
                    folded: dict[str, tuple[Decided, list[ConsumedEvent[ExpansionInput]]]]) -> None:
        decided = [d for d, _ in folded.values()]
        await account_signals.save(ctx.session, self.tables, {a: d.signals for a, (d, _) in folded.items()})
        opened: list[NewOpportunity] = [o for d in decided for o in d.opened]
        inserted = await insert_opportunities(ctx.session, self.tables, opened)
        await close_opportunities(ctx.session, self.tables, [c for d in decided for c in d.closed])
        now = self.clock()
        outputs.emit(ctx.outbox, [o for o in opened if o.opportunity_id in inserted], topic=self.upsell_topic,
                     emitted_at=now)
        outputs.emit_divergence(ctx.outbox, [a for d in decided for a in d.alerts], topic=self.churn_risk_topic,
                                emitted_at=now)
