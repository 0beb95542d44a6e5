"""Versions of cohort norms over event time: which version is in force at a moment, when a version
built now takes effect, which old versions to keep, and the JSON envelope a version is stored in.

Norms are configuration (like scorecards): a version is built from every account's state at one time
and stays fixed until the next refresh. Each version is in force from its `effective_from` (event
time), so an event is judged with the version a live run had in force at that event's time, and a
replay judges it the same way. Both health and expansion keep their norms this way; what a norm is
(health's quantiles, expansion's growth ratios and volumes) is each service's own business.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from shared.days import day_number, start_of_day


class Versioned(Protocol):
    """A norms version: its number and when it takes effect (None: never in force by time)."""

    @property
    def version(self) -> int: ...

    @property
    def effective_from(self) -> datetime | None: ...


V = TypeVar("V", bound=Versioned)
T = TypeVar("T")


class VersionHistory(Generic[V]):
    """The versions in force over time, oldest first; `empty` answers before the first."""

    def __init__(self, versions: Sequence[V] = (), *, empty: V) -> None:
        self.versions = tuple(versions)
        self.empty = empty
        self._dated = [v for v in self.versions if v.effective_from is not None]
        self._starts = [start for v in self._dated if (start := v.effective_from) is not None]

    @property
    def latest_version(self) -> int:
        """The highest version number held (0 without any)."""
        return self.versions[-1].version if self.versions else 0

    def at(self, moment: datetime) -> V:
        """The latest version effective at `moment` (`empty` before the first)."""
        position = bisect.bisect_right(self._starts, moment)
        return self._dated[position - 1] if position else self.empty


def effective_from_after(*evaluated: datetime) -> datetime:
    """When norms built now take effect: the first midnight after every moment the accounts may
    already have been evaluated at. Never earlier: a point evaluated before the norms existed would
    then have been judged without them in one run and with them in another (a batch committed just
    before or just after the build), and outputs would depend on timing instead of on the events."""
    return start_of_day(day_number(max(evaluated)) + 1)


def refresh_start(effective_from: datetime, latest_effective_from: datetime | None) -> datetime:
    """A new version's start: `effective_from`, never before the latest version's start (starts out
    of order would make "the version in force" depend on the order versions were built in)."""
    return effective_from if latest_effective_from is None else max(effective_from, latest_effective_from)


def oldest_kept(versions: Sequence[tuple[int, datetime]], *, newest_start: datetime, keep: timedelta) -> int | None:
    """Of (version, effective_from) pairs, the lowest version to keep when the newest starts at
    `newest_start`: the one in force `keep` before it (so a replay of the last `keep` finds every
    version it needs), None when every version is to be kept."""
    in_force_then = [v for v, start in versions if start <= newest_start - keep]
    return max(in_force_then) if in_force_then else None


def envelope_to_json(version: int, effective_from: datetime | None, body: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of a version: its number, its start and the service's own norms (`body`)."""
    return {"version": version,
            "effective_from": None if effective_from is None else effective_from.isoformat(),
            **body}


def envelope_from_json(raw: Mapping[str, Any], body: Callable[[int, datetime | None, Mapping[str, Any]], T]) -> T:
    """The version stored by `envelope_to_json`, `body` building the service's norms from it."""
    effective = raw.get("effective_from")
    return body(int(raw["version"]), None if effective is None else datetime.fromisoformat(effective), raw)
