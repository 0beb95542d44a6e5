"""Judging upsell triggers against upgrades: recall (upgrades preceded by a trigger within the
window) and precision (triggers followed by an upgrade within the window), per trigger kind and
overall. Pure: plain values in, a JSON-ready dict out.

The rules of the count, chosen so that nothing is judged on what the history cannot tell:

* an upgrade (a contract term with more ARR or seats than the one before, `shared.backtest.outcomes`)
  is preceded when a trigger fell on one of the `window_days` days before the upgrade's day (a
  trigger on the upgrade's own day may have been caused by it: not counted); upgrades less than
  `window_days` after the account's history starts are not judged (no full look-back);
* a trigger is followed when an upgrade came on one of the `window_days` days after the trigger's
  day; a trigger less than `window_days` before the horizon is judged only if an upgrade already
  followed it (otherwise the history cannot say yet).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.backtest.metrics import median, rounded

WINDOW_DAYS = 90
ALL = "any"


@dataclass(frozen=True, slots=True)
class RaisedTrigger:
    account_id: str
    kind: str
    at: datetime

    @property
    def day(self) -> date:
        return self.at.astimezone(UTC).date()


@dataclass(frozen=True, slots=True)
class Upgrade:
    account_id: str
    on: date


def judge(triggers: Sequence[RaisedTrigger], upgrades: Sequence[Upgrade], *, history_start: Mapping[str, date],
          horizon: date, kinds: Iterable[str], window_days: int = WINDOW_DAYS) -> dict[str, dict[str, Any]]:
    """{kind or "any": {triggers, judged_triggers, followed, precision, upgrades, judged_upgrades,
    preceded, recall, median_lead_days}} for every kind asked for (zeros for a kind never raised)."""
    window = timedelta(days=window_days)
    by_account = _upgrade_days(upgrades)
    out = {}
    for kind in (*kinds, ALL):
        chosen = [t for t in triggers if kind in (ALL, t.kind)]
        trigger_days: dict[str, list[date]] = {}
        for t in chosen:
            trigger_days.setdefault(t.account_id, []).append(t.day)
        judged_triggers = followed = 0
        for t in chosen:
            hit = any(t.day < on <= t.day + window for on in by_account.get(t.account_id, ()))
            if hit or t.day + window <= horizon:
                judged_triggers += 1
                followed += hit
        judged_upgrades = preceded = 0
        leads: list[float] = []
        for upgrade in upgrades:
            start = history_start.get(upgrade.account_id)
            if start is None or upgrade.on - window < start:
                continue
            judged_upgrades += 1
            before = [d for d in trigger_days.get(upgrade.account_id, ()) if upgrade.on - window <= d < upgrade.on]
            if before:
                preceded += 1
                leads.append((upgrade.on - min(before)).days)
        out[kind] = {
            "triggers": len(chosen), "judged_triggers": judged_triggers, "followed": followed,
            "precision": _share(followed, judged_triggers), "upgrades": len(upgrades),
            "judged_upgrades": judged_upgrades, "preceded": preceded, "recall": _share(preceded, judged_upgrades),
            "median_lead_days": median(leads),
        }
    return out


def base_rate(points: Iterable[tuple[str, date]], upgrades: Sequence[Upgrade], *, horizon: date,
              window_days: int = WINDOW_DAYS) -> dict[str, Any]:
    """The precision a trigger raised at random would have: the share of (account, day) points,
    e.g. every customer's month ends, followed by an upgrade within the window (judged as triggers are)."""
    window = timedelta(days=window_days)
    by_account = _upgrade_days(upgrades)
    judged = followed = 0
    for account_id, day in points:
        hit = any(day < on <= day + window for on in by_account.get(account_id, ()))
        if hit or day + window <= horizon:
            judged += 1
            followed += hit
    return {"points": judged, "followed": followed, "rate": _share(followed, judged)}


def _upgrade_days(upgrades: Sequence[Upgrade]) -> dict[str, list[date]]:
    by_account: dict[str, list[date]] = {}
    for upgrade in upgrades:
        by_account.setdefault(upgrade.account_id, []).append(upgrade.on)
    return by_account


def _share(part: int, whole: int) -> float | None:
    return rounded(part / whole) if whole else None
