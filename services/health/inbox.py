"""One alert inbox: every churn-risk alert, whoever raised it, in health's ``alerts`` table.

Health raises its own alerts and stores them as it emits them. Renewals (``renewal_at_risk``) and any
other service publish theirs to ``orchard.alerts.churn-risk.v1`` only; this consumer reads that
topic and keeps one inbox row per alert (``alert_id``: a raise, its escalations, reminders and its
resolve share it; a record without one is an alert of its own), so people acknowledge, snooze and
assign them in one place. The topic stays the source of truth for ops tooling; the row is a copy
plus what people did with it.

Why a runner of its own (consumer group ``orchard-<service>-inbox``) and not a fourth topic in the
scoring runner: the scoring runner merges its co-partitioned topics in event time
(``shared.alignment``), holding a partition group back while any of its partitions has more on the
broker. Alerts are outputs, emitted after the events that caused them (health's own by this very
service, renewals' after it read ``health.changed``): merged into the inputs they would hold scoring
back behind its own outputs, and nothing in a score depends on them. Apart, the inbox reads at its
own pace, a replay of the scoring group (``shared.replay``) leaves it alone, and it has its own
processed ids (prefixed ``churn-risk:``, so they never meet an input event's id).

Health's own alerts come back on the topic too: they are already rows (written in the transaction
that emitted them), and the upsert leaves rows health raised alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from services.health.store import HealthTables
from shared.consumer import BatchContext, ConsumedEvent
from shared.db import json_text, qualified
from shared.events import ChurnRiskAlert, EventValidationError, field_errors_from

PROCESSED_PREFIX = "churn-risk:"
INBOX_GROUP = "inbox"
"""The inbox runner's consumer group is the service's plus this suffix."""


@dataclass(frozen=True, slots=True)
class InboxRecord:
    """A churn-risk record as the inbox runner consumes it: the alert, validated once, under its own
    processed id (see the module docstring); the runner reads the rest from the alert."""

    alert: ChurnRiskAlert

    @property
    def event_id(self) -> str:
        return PROCESSED_PREFIX + self.alert.event_id

    @property
    def type(self) -> str:
        return self.alert.type

    @property
    def account_id(self) -> str:
        return self.alert.account_id

    @property
    def occurred_at(self) -> datetime:
        return self.alert.occurred_at


def parse_churn_risk(raw: bytes) -> InboxRecord:
    """A churn-risk record, validated; anything else raises EventValidationError (the runner
    dead-letters it)."""
    try:
        return InboxRecord(ChurnRiskAlert.model_validate_json(raw))
    except ValidationError as exc:
        raise EventValidationError(field_errors_from(exc), None) from None


@dataclass(frozen=True, slots=True)
class InboxRow:
    alert_id: str
    account_id: str
    kind: str
    severity: str
    status: str
    episode_start: datetime
    raised_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    last_event_id: str
    payload: dict[str, Any]


def inbox_rows(records: Iterable[ChurnRiskAlert]) -> list[InboxRow]:
    """One row per alert from its records in the order they were published (one account's records
    share a partition): the latest says the severity, status and payload, the first when it was
    raised."""
    rows: dict[str, InboxRow] = {}
    for r in records:
        alert_id = r.alert_id or r.event_id
        first = rows.get(alert_id)
        resolved = r.type == "churn_risk.resolved"
        raised_at = r.occurred_at if first is None else min(first.raised_at, r.occurred_at)
        rows[alert_id] = InboxRow(
            alert_id=alert_id, account_id=r.account_id, kind=r.kind, severity=r.severity,
            status="resolved" if resolved else "open",
            episode_start=r.episode_start or (first.episode_start if first else r.occurred_at),
            raised_at=raised_at, updated_at=r.occurred_at, resolved_at=r.occurred_at if resolved else None,
            last_event_id=r.event_id, payload=r.published(),
        )
    return list(rows.values())


# A row health raised is never touched (origin 'health'); a record older than the row's latest (a
# replay of the topic) changes nothing. People's fields (acknowledgement, snooze, assignment) are
# not in the statement, so a reminder or a resolve keeps them.
_UPSERT = """
INSERT INTO {table} AS t (alert_id, account_id, kind, severity, status, episode_start, raised_at, updated_at,
                          resolved_at, last_event_id, payload, origin)
SELECT id, a, k, sev, st, ep, ra, ua, rs, ev, p::jsonb, 'topic'
FROM unnest(CAST(:alert_id AS text[]), CAST(:account_id AS text[]), CAST(:kind AS text[]),
            CAST(:severity AS text[]), CAST(:status AS text[]), CAST(:episode_start AS timestamptz[]),
            CAST(:raised_at AS timestamptz[]), CAST(:updated_at AS timestamptz[]),
            CAST(:resolved_at AS timestamptz[]), CAST(:last_event_id AS text[]), CAST(:payload AS text[]))
     AS u(id, a, k, sev, st, ep, ra, ua, rs, ev, p)
ORDER BY id
ON CONFLICT (alert_id) DO UPDATE SET
    severity = excluded.severity, status = excluded.status, updated_at = excluded.updated_at,
    resolved_at = excluded.resolved_at, last_event_id = excluded.last_event_id, payload = excluded.payload,
    raised_at = least(t.raised_at, excluded.raised_at)
WHERE t.origin = 'topic' AND excluded.updated_at >= t.updated_at
"""


@dataclass(frozen=True)
class InboxHandler:
    tables: HealthTables

    async def __call__(self, ctx: BatchContext, events: Sequence[ConsumedEvent[InboxRecord]]) -> None:
        ordered = sorted(events, key=lambda e: (e.partition, e.offset))
        rows = inbox_rows(e.parsed.alert for e in ordered)
        if not rows:
            return
        t = self.tables.alerts
        await ctx.session.execute(sa.text(_UPSERT.format(table=qualified(t))), {
            "alert_id": [r.alert_id for r in rows], "account_id": [r.account_id for r in rows],
            "kind": [r.kind for r in rows], "severity": [r.severity for r in rows],
            "status": [r.status for r in rows], "episode_start": [r.episode_start for r in rows],
            "raised_at": [r.raised_at for r in rows], "updated_at": [r.updated_at for r in rows],
            "resolved_at": [r.resolved_at for r in rows], "last_event_id": [r.last_event_id for r in rows],
            "payload": [json_text(r.payload) for r in rows],
        })
