"""What renewals and expansion must have made of a backlog, computed by their pure domains from the
records on their input topics alone, and what a run of either service stored and emitted, in the same
shape, so that the two compare account by account.

The input is merged as the runner merges a backlog (`shared.alignment`): per partition number, the
topics' partitions merged by their next record's event time, then the topic's rank in the runner's
list, each partition in offset order; each event id once (the processed-events table). Each account's
events are then folded in that order by the entry points the handlers call: renewals' `judge_event`
(then `advance` to the last midnight the scheduled pass brings its partition group to, by the pass's
own rule, `shared.passes.group_untils`), expansion's `decide` over all of the account's events at once.
The conversion of a record to what the domain folds is written here again, not imported from the
handlers, so that the reference does not share their glue.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.expansion import outputs as expansion_outputs
from services.expansion.domain import (
    Catalogue,
    Closed,
    Decided,
    ExpansionSignals,
    Thresholds,
    decide,
    signals_to_json,
)
from services.expansion.inputs import signal_event
from services.renewals import outputs as renewals_outputs
from services.renewals.domain import (
    AccountBook,
    Judged,
    JudgingRules,
    advance,
    apply_contract_events,
    apply_health,
    book_to_json,
    health_at,
    judge_event,
    last_midnight,
)
from services.renewals.scheduler import IDLE_GROUP
from shared.consumer import ConsumedEvent
from shared.contracts import contract_event_of
from shared.events import Envelope, HealthChanged
from shared.health_reading import HealthReading
from shared.passes import group_untils
from tests.kafka_utils import read_all

EMITTED = datetime(2000, 1, 1, tzinfo=UTC)
"""`emitted_at` is wall-clock time, the one field of an output event that is not the events'; left out."""
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Outcome:
    """Per account, what is compared: each aspect (stored state, rows, emitted events) as plain JSON."""

    accounts: dict[str, dict[str, Any]]


def _plain(value: Any) -> Any:
    """JSON-normal form (what a JSONB column or a topic gives back), so that types compare equal."""
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))


async def merged_backlog(bootstrap: str, topics: Sequence[str], parse: Callable[[bytes], Envelope],
                         *, keep: Callable[[ConsumedEvent], bool] = lambda _: True
                         ) -> dict[int, list[ConsumedEvent]]:
    """Per partition number, the records of `topics` (in the runner's order) merged as the runner merges
    a backlog, each event id once; `keep` leaves records out (before merging: they never were there)."""
    lists: dict[int, list[list[tuple[datetime, int, ConsumedEvent]]]] = {}
    for rank, topic in enumerate(topics):
        records = sorted(await read_all(bootstrap, topic), key=lambda r: (r.partition, r.offset))
        by_partition: dict[int, list[tuple[datetime, int, ConsumedEvent]]] = {}
        for record in records:
            event = ConsumedEvent(parse(record.value), topic, record.partition, record.offset, record.value)
            if keep(event):
                by_partition.setdefault(record.partition, []).append((event.parsed.occurred_at, rank, event))
        for partition, items in by_partition.items():
            lists.setdefault(partition, []).append(items)
    merged: dict[int, list[ConsumedEvent]] = {}
    seen: set[str] = set()
    for partition in sorted(lists):
        out = merged.setdefault(partition, [])
        for _, _, event in heapq.merge(*lists[partition], key=lambda item: (item[0], item[1])):
            if event.parsed.event_id not in seen:
                seen.add(event.parsed.event_id)
                out.append(event)
    return merged


def _by_account(events: Sequence[ConsumedEvent]) -> dict[str, list[ConsumedEvent]]:
    grouped: dict[str, list[ConsumedEvent]] = {}
    for event in events:
        grouped.setdefault(event.parsed.account_id, []).append(event)
    return grouped


# --- renewals -------------------------------------------------------------------------------------

def _renewals_change(event: ConsumedEvent) -> Callable[[AccountBook], AccountBook]:
    record = event.parsed
    if isinstance(record, HealthChanged):
        health = HealthReading.of(record)
        return lambda book: apply_health(book, health)
    assert record.type.startswith("contract."), record.type
    contract_event = contract_event_of(record)
    return lambda book: apply_contract_events(book, [contract_event])


def renewals_reference(merged: Mapping[int, Sequence[ConsumedEvent]], rules: JudgingRules) -> Outcome:
    """Per account: its book as stored, its renewals rows, its ARR spans and its alerts."""
    judged: dict[str, tuple[int, Judged]] = {}
    watermarks: dict[int, datetime] = {}
    for partition, events in merged.items():
        for account, own in _by_account(events).items():
            state = Judged(AccountBook())
            for event in own:
                state = judge_event(state, account, at=event.parsed.occurred_at, apply=_renewals_change(event),
                                    rules=rules)
            judged[account] = (partition, state)
        watermarks[partition] = max(e.parsed.occurred_at for e in events)
    untils = group_untils(watermarks, (), FAR_FUTURE, last_midnight=last_midnight, idle_after=IDLE_GROUP,
                          strictly_past=False, settled=dict.fromkeys(watermarks))
    accounts: dict[str, dict[str, Any]] = {}
    for account, (partition, state) in judged.items():
        state = state.then(advance(state.book, account, until=untils[partition], rules=rules))
        book = state.book
        assert book.judged_at is not None
        health = health_at(book.health_trail, book.judged_at)
        rows = {}
        for r in book.renewals(account, at=book.judged_at, rules=rules.risk):
            alert = book.alerts.get(r.renewal_id)
            rows[r.renewal_id] = _plain({
                "contract_id": r.contract_id, "term_start": r.term.start_date, "renewal_date": r.renewal_date,
                "arr": r.term.arr, "currency": r.term.currency, "seats": r.term.seats,
                "products": list(r.term.products), "auto_renew": r.term.auto_renew, "segment": r.term.segment,
                "stage": r.outcome or "open", "risk": r.risk.band,
                "risk_reasons": [{"component": x.component, "delta": x.delta, "detail": x.detail,
                                  "evidence_event_ids": list(x.evidence_event_ids)} for x in r.risk.reasons],
                "health_score": None if health is None else health.score,
                "health_grade": None if health is None else health.grade,
                "alert_severity": None if alert is None else alert.severity,
                "alert_episode": 0 if alert is None else alert.episode})
        alerts = {d.event_id: _without_emitted(renewals_outputs.renewal_alert(d, emitted_at=EMITTED).model_dump(
            mode="json")) for d in state.decisions}
        spans = sorted(_plain([s.contract_id, s.currency, s.arr, s.valid_from, s.valid_to]) for s in book.spans())
        accounts[account] = {"book": _plain(book_to_json(book)), "renewals": rows, "arr_spans": spans,
                             "alerts": alerts}
    return Outcome(accounts)


def _without_emitted(payload: Mapping[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = _plain({k: v for k, v in payload.items() if k != "emitted_at"})
    return plain


def _by_account_id(values: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for value in values:
        out.setdefault(value["account_id"], {})[value["event_id"]] = _without_emitted(value)
    return out


async def _states(conn: AsyncConnection, schema: str) -> dict[str, Any]:
    """account -> its folded state, as the service stored it."""
    return {r.account_id: r.state for r in await conn.execute(
        sa.text(f'SELECT account_id, state FROM "{schema}".accounts'))}


async def _rows_by_account(conn: AsyncConnection, key: str, sql: str) -> dict[str, dict[str, Any]]:
    """account -> row id (`key`) -> the row's other columns, JSON-normal."""
    rows: dict[str, dict[str, Any]] = {}
    for r in await conn.execute(sa.text(sql)):
        row = dict(r._mapping)
        account, row_id = row.pop("account_id"), row.pop(key)
        rows.setdefault(account, {})[row_id] = _plain(row)
    return rows


async def renewals_run(engine: AsyncEngine, schema: str, churn_risk: Sequence[Mapping[str, Any]]) -> Outcome:
    """What a renewals run stored in `schema` and emitted (`churn_risk`: its topic's values), per account."""
    async with engine.connect() as conn:
        books = await _states(conn, schema)
        rows = await _rows_by_account(conn, "renewal_id", (
            "SELECT renewal_id, account_id, contract_id, term_start, renewal_date, arr, currency, seats, products,"
            " auto_renew, segment, stage, risk, risk_reasons, health_score, health_grade, alert_severity,"
            f' alert_episode FROM "{schema}".renewals'))
        spans: dict[str, list[Any]] = {}
        for r in await conn.execute(sa.text(
                f'SELECT account_id, contract_id, currency, arr, valid_from, valid_to FROM "{schema}".arr_spans')):
            spans.setdefault(r.account_id, []).append(_plain([r.contract_id, r.currency, r.arr, r.valid_from,
                                                              r.valid_to]))
    alerts = _by_account_id(churn_risk)
    accounts = books.keys() | rows.keys() | spans.keys() | alerts.keys()
    return Outcome({a: {"book": _plain(books.get(a)), "renewals": rows.get(a, {}),
                        "arr_spans": sorted(spans.get(a, [])), "alerts": alerts.get(a, {})} for a in accounts})


# --- expansion ------------------------------------------------------------------------------------

def expansion_reference(merged: Mapping[int, Sequence[ConsumedEvent]], *, catalogue: Catalogue,
                        thresholds: Thresholds) -> Outcome:
    """Per account: its signals as stored, its opportunities (closed ones with how) and its upsell and
    divergence events."""
    accounts: dict[str, dict[str, Any]] = {}
    for events in merged.values():
        for account, own in _by_account(events).items():
            decided = decide(Decided(ExpansionSignals()), account, [signal_event(e) for e in own],
                             catalogue=catalogue, thresholds=thresholds)
            closes: dict[str, Closed] = {}
            for closed in decided.closed:
                closes.setdefault(closed.opportunity_id, closed)  # the first close stands: the row is closed then
            opportunities = {}
            for o in decided.opened:
                t, c = o.trigger, closes.get(o.opportunity_id)
                opportunities[o.opportunity_id] = _plain({
                    "kind": t.kind, "product": t.product, "episode": o.episode,
                    "stage": "open" if c is None else c.stage, "estimated_arr_uplift": t.estimated_arr_uplift,
                    "confidence": t.confidence, "reason": t.reason, "evidence": list(t.evidence_event_ids),
                    "as_of": o.as_of, "currency": o.currency, "closed_at": None if c is None else c.closed_at,
                    "closed_by": None if c is None else c.closed_by, "close_reason": None if c is None else c.reason})
            upsell = {}
            for o in decided.opened:
                record = expansion_outputs.upsell_triggered(o, emitted_at=EMITTED)
                upsell[record.event_id] = _without_emitted(record.model_dump(mode="json"))
            divergence = {a.event_id: _without_emitted(expansion_outputs.divergence_alert(
                a, emitted_at=EMITTED).model_dump(mode="json")) for a in decided.alerts}
            accounts[account] = {"signals": _plain(signals_to_json(decided.signals)), "opportunities": opportunities,
                                 "upsell": upsell, "divergence": divergence}
    return Outcome(accounts)


async def expansion_run(engine: AsyncEngine, schema: str, upsell: Sequence[Mapping[str, Any]],
                        divergence: Sequence[Mapping[str, Any]]) -> Outcome:
    """What an expansion run stored in `schema` and emitted (its topics' values), per account."""
    async with engine.connect() as conn:
        signals = await _states(conn, schema)
        opportunities = await _rows_by_account(conn, "opportunity_id", (
            "SELECT opportunity_id, account_id, kind, product, episode, stage, estimated_arr_uplift, confidence,"
            " reason, evidence, as_of, currency, closed_at, closed_by, close_reason"
            f' FROM "{schema}".opportunities'))
    upsells, alerts = _by_account_id(upsell), _by_account_id(divergence)
    accounts = signals.keys() | opportunities.keys() | upsells.keys() | alerts.keys()
    return Outcome({a: {"signals": _plain(signals.get(a)), "opportunities": opportunities.get(a, {}),
                        "upsell": upsells.get(a, {}), "divergence": alerts.get(a, {})} for a in accounts})


# --- comparing ------------------------------------------------------------------------------------

def _first_difference(a: Any, b: Any, path: str = "") -> str:
    """Where two JSON values part: the path and the two values there."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys(), key=str):
            if key not in a or key not in b:
                return f"{path}/{key}: {'missing in the reference' if key not in a else 'missing in the run'}"
            if a[key] != b[key]:
                return _first_difference(a[key], b[key], f"{path}/{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    text_a, text_b = orjson.dumps(a, default=str).decode(), orjson.dumps(b, default=str).decode()
    return f"{path or '/'}: reference {text_a[:300]} != run {text_b[:300]}"


def differences(label: str, reference: Outcome, run: Outcome) -> list[str]:
    """One line per account and aspect that differs: which account, what, and where it first parts."""
    found = []
    for account in sorted(reference.accounts.keys() | run.accounts.keys()):
        ref, got = reference.accounts.get(account), run.accounts.get(account)
        if ref is None or got is None:
            found.append(f"{label}: {account}: only in the {'run' if ref is None else 'reference'}")
            continue
        for aspect in ref:
            if ref[aspect] != got[aspect]:
                found.append(f"{label}: {account}: {aspect} differs at {_first_difference(ref[aspect], got[aspect])}")
    return found
