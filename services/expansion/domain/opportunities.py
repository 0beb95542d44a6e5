"""From triggers to opportunities: deterministic ids, no re-trigger while open, a cool-down after
one is closed.

An opportunity is one episode of one (account, kind, product). Its id is uuid5 of those and the
episode number (1 for the first, n + 1 after episode n closed), so re-deriving the same history
(a replay, a retried batch) names the same opportunity and a primary key stops a double.

- While the latest episode is open (open, qualified, proposed), the trigger is not raised again.
- After it closed (won, lost, dismissed), it is raised again only once `cooldown_days` have passed
  since it closed (`as_of`, event time, against `closed_at`) or, after lost or dismissed, when the
  signal clearly strengthened: the estimated uplift reached `reraise_uplift_factor` x the closed
  one's. A won episode waits out the cool-down: the sale just absorbed the signal that raised it,
  and the bigger contract makes any uplift estimate look "stronger" the next day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final, Literal

from services.expansion.domain.rules import Trigger
from services.expansion.domain.thresholds import Thresholds
from shared.events import deterministic_event_id

Stage = Literal["open", "qualified", "proposed", "won", "lost", "dismissed"]
STAGES: Final[tuple[str, ...]] = ("open", "qualified", "proposed", "won", "lost", "dismissed")
OPEN_STAGES: Final = frozenset({"open", "qualified", "proposed"})
CLOSED_STAGES: Final = frozenset({"won", "lost", "dismissed"})
TRANSITIONS: Final[Mapping[str, frozenset[str]]] = {
    "open": frozenset({"qualified", "proposed", "won", "lost", "dismissed"}),
    "qualified": frozenset({"open", "proposed", "won", "lost", "dismissed"}),
    "proposed": frozenset({"qualified", "won", "lost", "dismissed"}),
    # Closed is final for the episode: a new signal opens a new episode instead.
    "won": frozenset(),
    "lost": frozenset(),
    "dismissed": frozenset(),
}


def opportunity_id(account_id: str, kind: str, product: str, episode: int) -> str:
    return deterministic_event_id("expansion.opportunity", account_id, kind, product, str(episode))


def can_move(stage: str, to: str) -> bool:
    """Whether a PATCH may move an opportunity from `stage` to `to` (staying put is always allowed)."""
    return to == stage or to in TRANSITIONS.get(stage, frozenset())


@dataclass(frozen=True)
class LatestEpisode:
    """The latest stored opportunity of one (account, kind, product)."""

    kind: str
    product: str
    episode: int
    stage: str
    estimated_arr_uplift: Decimal
    closed_at: datetime | None
    progressed_at: datetime | None = None
    """When it last moved forward: opened (event time) or a person's stage move; what expiry counts
    from (`closing`). None: never expires."""


@dataclass(frozen=True)
class NewOpportunity:
    opportunity_id: str
    account_id: str
    episode: int
    as_of: datetime
    trigger: Trigger
    currency: str = "USD"
    """The currency of `trigger.estimated_arr_uplift` (`uplift_currency`)."""


def new_opportunities(
    account_id: str,
    triggers: Sequence[Trigger],
    latest: Mapping[tuple[str, str], LatestEpisode],
    thresholds: Thresholds,
    *,
    as_of: datetime,
) -> list[NewOpportunity]:
    """The triggers that open a new opportunity, given the latest episode of each (kind, product)."""
    opened = []
    for trigger in triggers:
        previous = latest.get((trigger.kind, trigger.product))
        if previous is not None and not _may_reraise(previous, trigger, thresholds, as_of):
            continue
        episode = 1 if previous is None else previous.episode + 1
        opened.append(NewOpportunity(opportunity_id(account_id, trigger.kind, trigger.product, episode),
                                     account_id, episode, as_of, trigger))
    return opened


def _may_reraise(previous: LatestEpisode, trigger: Trigger, t: Thresholds, as_of: datetime) -> bool:
    if previous.stage not in CLOSED_STAGES:
        return False
    if previous.closed_at is None or as_of >= previous.closed_at + timedelta(days=t.cooldown_days):
        return True
    if previous.stage == "won":
        return False
    return trigger.estimated_arr_uplift >= previous.estimated_arr_uplift * t.reraise_uplift_factor > 0
