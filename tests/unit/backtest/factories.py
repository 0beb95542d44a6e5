"""Small hand-made histories for the backtest's tests."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.events import Envelope, parse_event

_ids = itertools.count()


def at(day: date | str, hour: int = 12) -> datetime:
    d = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def event(event_type: str, when: datetime, data: dict[str, Any], *, account: str = "acct-1",
          event_id: str | None = None) -> Envelope:
    return parse_event({"event_id": event_id or f"e-{next(_ids)}", "type": event_type, "schema_version": 1,
                        "account_id": account, "occurred_at": when.isoformat(), "data": data})


def term(event_type: str, when: datetime, *, start: str, end: str, arr: str = "1200", seats: int = 10,
         contract: str = "k1", account: str = "acct-1", segment: str | None = None) -> Envelope:
    data: dict[str, Any] = {"contract_id": contract, "arr": arr, "seats": seats, "start_date": start,
                            "end_date": end}
    if segment:
        data["segment"] = segment
    return event(event_type, when, data, account=account)


def cancel(when: datetime, *, end: str, contract: str = "k1", account: str = "acct-1") -> Envelope:
    return event("contract.cancelled", when, {"contract_id": contract, "end_date": end}, account=account)


def usage_days(first: date, days: int, *, per_day: int = 3, account: str = "acct-1",
               users: int | None = 3) -> list[Envelope]:
    out = []
    for n in range(days):
        for k in range(per_day):
            data: dict[str, Any] = {"feature": f"f{k % 2}", "quantity": 1}
            if users:
                data["user_id"] = f"u{k % users}"
            out.append(event("usage.recorded", at(first + timedelta(days=n), 9 + k), data, account=account))
    return out
