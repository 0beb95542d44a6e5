"""ExpansionSignals: the small per-account state the upsell rules read, folded from events.

What is kept, and why it stays bounded whatever the event volume:

* contracts: every contract event, folded by the rule all services share (`shared.contracts`), so
  licensed seats, owned products and the segment are known at any `as_of`;
* users: each user's last-seen UTC day, for "distinct active users in the last 30 days"; users
  not seen for `ACTIVE_WINDOW_DAYS` before the newest event are dropped, and at most
  `MAX_TRACKED_USERS` are kept (the most recently seen); and whether any usage event ever carried a
  user id (`users_reported`): without one, active users are unknown, not zero;
* features: per feature name, the product it was reported under and a 30-bit day mask of the
  days it was used (bit k = the day `k` days before `last_day`), at most `MAX_FEATURES`;
* volumes: per feature, the summed `quantity` per UTC day over the last `usage.VOLUME_DAYS` days
  (what usage growth and plan limits are judged on; no user id needed), at most `MAX_FEATURES`;
* the latest NPS and CSAT answers, with the event that gave them (the evidence);
* the health gate (`health_gate`): the latest grade, the open churn-risk alerts and the triggers
  held because of them;
* the ARR and health points of the last `divergence` window and its open episode (`decide` keeps
  them: they need the window's length).

Registers keep the latest value by (occurred_at, event_id), so out-of-order arrival gives the same
state as in-order arrival. Idempotency (an event id twice) is the shell's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from services.expansion.domain.divergence import EMPTY_DIVERGENCE, DivergenceState
from services.expansion.domain.health_gate import EMPTY_GATE, HealthGate, apply_gate_event
from services.expansion.domain.usage import Volumes, add_volume, pruned
from shared.contracts import EMPTY_HISTORY, ContractEvent, ContractHistory, Term, contract_event
from shared.days import day_number
from shared.events import (
    ChurnRiskAlert,
    ContractCancelled,
    ContractTerms,
    HealthChanged,
    SurveyAnswered,
    UsageRecorded,
)
from shared.signal_events import SignalEvent

ACTIVE_WINDOW_DAYS = 30
MAX_TRACKED_USERS = 50_000
MAX_FEATURES = 500
MAX_EVIDENCE = 5
_WINDOW_MASK = (1 << ACTIVE_WINDOW_DAYS) - 1


@dataclass(frozen=True, slots=True)
class Survey:
    score: int
    at: datetime
    event_id: str


@dataclass(frozen=True, slots=True)
class FeatureUse:
    product: str | None
    last_day: int
    day_mask: int
    evidence: tuple[str, ...] = ()

    def days_used(self, as_of_day: int) -> int:
        """Distinct days in the 30 days ending on `as_of_day` on which the feature was used."""
        shift = as_of_day - self.last_day
        if shift >= ACTIVE_WINDOW_DAYS:
            return 0
        if shift < 0:  # as_of before the last use: count what lies in the window anyway
            return bin(self.day_mask >> -shift).count("1")
        return bin(self.day_mask & ((1 << (ACTIVE_WINDOW_DAYS - shift)) - 1)).count("1")


@dataclass(frozen=True)
class ExpansionSignals:
    latest_at: datetime | None = None
    contracts: ContractHistory = EMPTY_HISTORY
    user_last_seen: Mapping[str, int] = field(default_factory=dict)
    features: Mapping[str, FeatureUse] = field(default_factory=dict)
    usage_evidence: tuple[str, ...] = ()
    nps: Survey | None = None
    csat: Survey | None = None
    volumes: Volumes = field(default_factory=dict)
    gate: HealthGate = EMPTY_GATE
    divergence: DivergenceState = EMPTY_DIVERGENCE
    users_reported: bool = False
    """Some usage event carried a user id. Aggregated daily counts, metered quantities and server-side
    events carry none: their active users are unknown, and an empty `user_last_seen` says nothing."""

    @property
    def segment_name(self) -> str | None:
        """The segment the latest contract event named (the cohort the account is compared with)."""
        return self.contracts.segment

    def live_contracts(self, as_of: datetime) -> list[Term]:
        """What the account has bought on `as_of`'s day: each contract's latest term, unless its
        cancellation has taken effect (`ContractHistory.committed`)."""
        return self.contracts.committed(as_of.astimezone(UTC).date())

    def licensed_seats(self, as_of: datetime) -> int:
        return sum(c.seats for c in self.live_contracts(as_of))

    def arr_by_currency(self, as_of: datetime) -> dict[str, Decimal]:
        arr: dict[str, Decimal] = {}
        for c in self.live_contracts(as_of):
            arr[c.currency] = arr.get(c.currency, Decimal(0)) + c.arr
        return dict(sorted(arr.items()))

    def owned_products(self, as_of: datetime) -> frozenset[str]:
        return frozenset(p for c in self.live_contracts(as_of) for p in c.products)

    def active_users(self, as_of: datetime) -> int:
        """Distinct users seen in the 30 days ending on `as_of`'s day."""
        today = day_number(as_of)
        return sum(1 for day in self.user_last_seen.values() if today - ACTIVE_WINDOW_DAYS < day <= today)


EMPTY_SIGNALS = ExpansionSignals()


def apply_events(signals: ExpansionSignals, events: Iterable[SignalEvent]) -> ExpansionSignals:
    """Fold events into the signals; event types the rules do not read leave them unchanged."""
    contract_events: list[ContractEvent] = []
    users = dict(signals.user_last_seen)
    features = dict(signals.features)
    evidence = list(signals.usage_evidence)
    volumes = dict(signals.volumes)
    nps, csat, latest = signals.nps, signals.csat, signals.latest_at
    gate, users_reported = signals.gate, signals.users_reported
    for event in events:
        day = day_number(event.occurred_at)
        if latest is None or event.occurred_at > latest:
            latest = event.occurred_at
        data = event.data
        if isinstance(data, UsageRecorded):
            _apply_usage(event.event_id, data, day, users, features, evidence)
            users_reported = users_reported or bool(data.user_id)
            add_volume(volumes, data.feature, day, data.quantity)
        elif isinstance(data, SurveyAnswered):
            answer = Survey(data.score, event.occurred_at, event.event_id)
            if data.kind == "nps":
                nps = _later(nps, answer)
            else:
                csat = _later(csat, answer)
        elif isinstance(data, ContractTerms | ContractCancelled):
            contract_events.append(contract_event(event_id=event.event_id, event_type=event.event_type,
                                                  occurred_at=event.occurred_at, data=data))
        elif isinstance(data, HealthChanged | ChurnRiskAlert):
            gate = apply_gate_event(gate, event_type=event.event_type, event_id=event.event_id,
                                    occurred_at=event.occurred_at, record=data)
    return _bounded(ExpansionSignals(latest, signals.contracts.add(contract_events), users, features, tuple(evidence),
                                     nps, csat, volumes, gate, signals.divergence, users_reported))


def _later(current: Survey | None, answer: Survey) -> Survey:
    if current is None or (answer.at, answer.event_id) > (current.at, current.event_id):
        return answer
    return current


def _apply_usage(
    event_id: str, usage: UsageRecorded, day: int, users: dict[str, int], features: dict[str, FeatureUse],
    evidence: list[str],
) -> None:
    if usage.user_id:
        users[usage.user_id] = max(day, users.get(usage.user_id, day))
    feature, product = usage.feature, usage.product
    use = features.get(feature)
    if use is None:
        use = FeatureUse(product=product, last_day=day, day_mask=1)
    elif day > use.last_day:
        use = FeatureUse(product or use.product, day, ((use.day_mask << (day - use.last_day)) | 1) & _WINDOW_MASK,
                         use.evidence)
    elif use.last_day - day < ACTIVE_WINDOW_DAYS:
        use = replace(use, day_mask=use.day_mask | (1 << (use.last_day - day)))
    features[feature] = replace(use, evidence=(*use.evidence, event_id)[-MAX_EVIDENCE:])
    evidence.append(event_id)
    del evidence[:-MAX_EVIDENCE]


def _bounded(signals: ExpansionSignals) -> ExpansionSignals:
    if signals.latest_at is None:
        return signals
    horizon = day_number(signals.latest_at) - ACTIVE_WINDOW_DAYS
    users = {u: d for u, d in signals.user_last_seen.items() if d > horizon}
    if len(users) > MAX_TRACKED_USERS:
        users = dict(sorted(users.items(), key=lambda item: (-item[1], item[0]))[:MAX_TRACKED_USERS])
    features = dict(signals.features)
    if len(features) > MAX_FEATURES:
        features = dict(sorted(features.items(), key=lambda item: (-item[1].last_day, item[0]))[:MAX_FEATURES])
    volumes = pruned(signals.volumes, latest_day=day_number(signals.latest_at))
    # (pruned keeps a feature's mapping as it is when nothing in it expired: no copy per event)
    if len(volumes) > MAX_FEATURES:
        volumes = dict(sorted(volumes.items(), key=lambda item: (-max(item[1]), item[0]))[:MAX_FEATURES])
    return replace(signals, user_last_seen=users, features=features, volumes=volumes)
