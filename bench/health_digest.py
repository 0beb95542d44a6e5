"""A digest of everything health's pure domain decides over bench.health's feeds, and its CPU cost:
the check that a hot-path change to the domain changes no result, and the measure of what it saves.

    .venv/bin/python -m bench.health_digest            # digests of the three replays (about a minute)
    .venv/bin/python -m bench.health_digest --speed    # CPU s per 1,000 events, domain alone, 3 runs each

The digest is a sha256 over every evaluation (score with its components, parts and facts, grade,
explanation, alert decisions, alert state, recent scores, the history row and the output events
the shell would write and emit) and every account's final state, in order. Three replays:

* worst: bench.health's worst-case feed (every event of a batch a different account) in batches of
  1,000 grouped by account as the handler groups them, then the scheduler's pass two days on;
* clustered: the clustered feed, the state round-tripped through its JSON form between batches as
  the store does, with cohort norms built from the worst-case replay and every alert kind enabled
  (score_drop included), so the norm-based usage level and every alert rule are exercised;
* single: part of the worst-case feed one event per batch, with a JSON round trip each time.

Each account's records are hashed apart (accounts interleave differently in another batching).
The same code gives the same digests on every run (the feeds are seeded, `now` is fixed); a change
to the domain that moves any bit of any output changes them.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from bench.common import own_cpu_seconds
from bench.health import feed
from services.health.domain import (
    ALERT_KINDS,
    DEFAULT_SCORECARDS,
    NO_NORMS,
    Evaluation,
    NormsHistory,
    Scorecard,
    SignalEvent,
    StoredAccount,
    advance,
    build_norms,
    contract_summary,
)
from services.health.domain.scoring import health_score_from_json, health_score_to_json
from services.health.domain.signals import signals_from_json, signals_to_json
from services.health.domain.state import (
    alert_state_from_json,
    alert_state_to_json,
    recent_scores_from_json,
    recent_scores_to_json,
)
from services.health.domain.usage import norm_sample
from services.health.outputs import all_output_events
from services.health.store_writes import _history_row
from shared.days import day_number
from shared.settings import TopicSettings
from shared.signal_events import signal_event

NOW = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)
EMITTED_AT = datetime(2025, 3, 20, tzinfo=UTC)
TOPICS = TopicSettings()


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return repr(value)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def evaluation_record(e: Evaluation) -> bytes:
    """Every output of one evaluation point, as bytes (repr where a value has no JSON form: exact)."""
    return _dumps({
        "account": e.account_id, "cause": e.cause, "point": e.point, "changed": e.changed,
        "score": health_score_to_json(e.score), "score_repr": repr(e.score),
        # The previous score in full is the previous point's (hashed there); after a store round trip it
        # may read coverage 0.0 where it was made as 0, which is no difference in value.
        "previous": None if e.previous is None else repr((e.previous.as_of, e.previous.total, e.previous.grade)),
        "reasons": [r.to_json() for r in e.reasons], "decisions": repr(e.decisions),
        "alert_state": alert_state_to_json(e.alert_state), "recent": recent_scores_to_json(e.recent_scores),
        "last_event_at": repr(e.last_event_at), "contract": repr(e.contract),
        "deltas": e.component_deltas(), "history": _history_row(e) if e.changed else None,
        "outputs": [(topic, event.model_dump(mode="json"))
                    for topic, event in all_output_events([e], topics=TOPICS, emitted_at=EMITTED_AT)],
    })


def account_record(a: StoredAccount) -> bytes:
    norm = norm_sample(a.signals, day_number(a.score.as_of)) if a.score is not None else None
    return _dumps({
        "account": a.account_id, "signals": signals_to_json(a.signals),
        "score": None if a.score is None else health_score_to_json(a.score),
        "alert_state": alert_state_to_json(a.alert_state), "recent": recent_scores_to_json(a.recent_scores),
        "last_event_at": repr(a.last_event_at), "norm_sample": norm,
    })


def round_trip(a: StoredAccount) -> StoredAccount:
    """The account as the store saves and loads it (JSON through text, as JSONB hands it back)."""
    def back(value: Any) -> Any:
        return orjson.loads(orjson.dumps(value))
    return StoredAccount(
        a.account_id, signals_from_json(back(signals_to_json(a.signals))),
        None if a.score is None else health_score_from_json(back(health_score_to_json(a.score))),
        alert_state_from_json(back(alert_state_to_json(a.alert_state))),
        recent_scores_from_json(back(recent_scores_to_json(a.recent_scores))), a.last_event_at,
    )


def signal_events(events: Sequence[Mapping[str, Any]]) -> list[tuple[str, SignalEvent]]:
    return [(e["account_id"], signal_event(event_id=e["event_id"], event_type=e["type"],
                                           occurred_at=datetime.fromisoformat(e["occurred_at"]), data=e["data"]))
            for e in events]


def replay(
    events: Sequence[tuple[str, SignalEvent]], *, batch: int = 1000, scorecards: Mapping[str, Scorecard],
    norms: NormsHistory = NO_NORMS, stored: bool = False, until: datetime | None = None,
) -> Iterator[Evaluation | StoredAccount]:
    """The evaluations of `events` in batches of `batch` (grouped by account as the handler does), then
    the scheduler's pass to `until`, then each account's final state; `stored`: every account goes
    through its JSON form between batches."""
    state: dict[str, StoredAccount] = {}
    for start in range(0, len(events), batch):
        grouped: dict[str, list[SignalEvent]] = {}
        for account_id, signal in events[start:start + batch]:
            grouped.setdefault(account_id, []).append(signal)
        for account_id, group in grouped.items():
            account = state.get(account_id) or StoredAccount(account_id)
            moved = advance(round_trip(account) if stored else account, group, scorecards=scorecards, norms=norms)
            yield from moved.evaluations
            state[account_id] = moved.account
    if until is not None:
        for account_id in sorted(state):
            account = state[account_id]
            moved = advance(round_trip(account) if stored else account, [], scorecards=scorecards, norms=norms,
                            until=until)
            yield from moved.evaluations
            state[account_id] = moved.account
    yield from (state[a] for a in sorted(state))


def digest(items: Iterator[Evaluation | StoredAccount]) -> tuple[str, int]:
    """One sha256 per account over its evaluations in order and its final state, then one over those
    in account order: how accounts interleave depends on the batching, an account's points do not."""
    per_account: dict[str, Any] = {}
    points = 0
    for item in items:
        h = per_account.get(item.account_id)
        if h is None:
            h = per_account[item.account_id] = hashlib.sha256()
        if isinstance(item, Evaluation):
            points += 1
            h.update(evaluation_record(item))
        else:
            h.update(account_record(item))
        h.update(b"\n")
    total = hashlib.sha256()
    for account_id in sorted(per_account):
        total.update(f"{account_id} {per_account[account_id].hexdigest()}\n".encode())
    return total.hexdigest(), points


def all_alerts(scorecards: Mapping[str, Scorecard]) -> dict[str, Scorecard]:
    return {name: replace(card, alerts=replace(card.alerts, enabled=frozenset(ALERT_KINDS)))
            for name, card in scorecards.items()}


def digests(worst_accounts: int = 2000, clustered_accounts: int = 200, clustered_events: int = 20_000,
            single_accounts: int = 100) -> dict[str, tuple[str, int]]:
    worst = signal_events(feed(worst_accounts, worst_accounts * 10, now=NOW))
    out: dict[str, tuple[str, int]] = {}
    final: list[StoredAccount] = []

    def keep_final(items: Iterator[Evaluation | StoredAccount]) -> Iterator[Evaluation | StoredAccount]:
        for item in items:
            if isinstance(item, StoredAccount):
                final.append(item)
            yield item

    out["worst"] = digest(keep_final(replay(worst, scorecards=DEFAULT_SCORECARDS, until=NOW + timedelta(days=2))))
    norms = build_norms(((contract_summary(a.signals, NOW.date()).segment, norm_sample(a.signals, day_number(NOW)))
                         for a in final), version=1, effective_from=NOW - timedelta(days=45))
    clustered = signal_events(feed(clustered_accounts, clustered_events, now=NOW, prefix="clus", clustered=True))
    out["clustered"] = digest(replay(clustered, scorecards=all_alerts(DEFAULT_SCORECARDS),
                                     norms=NormsHistory([norms]), stored=True, until=NOW + timedelta(days=3)))
    single = signal_events(feed(single_accounts, single_accounts * 10, now=NOW, prefix="one"))
    out["single"] = digest(replay(single, batch=1, scorecards=DEFAULT_SCORECARDS, stored=True))
    return out


def cpu_per_1000(events: Sequence[tuple[str, SignalEvent]]) -> float:
    """CPU seconds per 1,000 events of `advance` over `events` (batches of 1,000, state in memory),
    as bench.health's `domain_only` measures it."""
    state: dict[str, StoredAccount] = {}
    cpu = own_cpu_seconds()
    for start in range(0, len(events), 1000):
        grouped: dict[str, list[SignalEvent]] = {}
        for account_id, signal in events[start:start + 1000]:
            grouped.setdefault(account_id, []).append(signal)
        for account_id, group in grouped.items():
            moved = advance(state.get(account_id) or StoredAccount(account_id), group,
                            scorecards=DEFAULT_SCORECARDS, norms=NO_NORMS)
            state[account_id] = moved.account
    return 1000 * (own_cpu_seconds() - cpu) / len(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speed", action="store_true", help="measure CPU s per 1,000 events instead")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worst-only", action="store_true", help="the worst-case feed only")
    args = parser.parse_args()
    if not args.speed:
        for name, (value, points) in digests().items():
            print(f"{name:10} {value}  ({points} points)")
        return
    workloads = {
        "worst (2,000 accounts x 10 events)": signal_events(feed(2000, 20_000, now=NOW)),
        "clustered (300 accounts, 30,000 events)": signal_events(
            feed(300, 30_000, now=NOW, prefix="clus", clustered=True)),
    }
    for name, events in workloads.items():
        if args.worst_only and not name.startswith("worst"):
            continue
        runs = [cpu_per_1000(events) for _ in range(args.runs)]
        print(f"{name:42} CPU s per 1,000 events: " + " ".join(f"{r:.3f}" for r in runs)
              + f"  (median {statistics.median(runs):.3f})")


if __name__ == "__main__":
    main()
