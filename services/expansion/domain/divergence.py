"""Revenue and health moving apart: an account whose ARR grows while its health falls (it is being
sold more than it uses: a churn risk behind a good-looking number), or whose ARR falls while its
health rises (contracting although it does well: a save or win-back to look at).

Judged after every event of the account, in event time (`decide`), over a trailing window of
`Thresholds.divergence_window_days`:

- ARR then: the account's ARR as of its latest contract event at or before the window's start (its
  first contract event when it is younger than the window, so signing is not growth); ARR now: its
  live contracts at the event's time. Per currency, never summed: it grew when one currency grew by
  `divergence_min_arr_change` (a share) or more and none fell; it fell likewise (to a non-zero ARR:
  a full churn is renewals' business, not a divergence).
- Health then and now: the latest `health.changed` score at or before the window's start (the first
  one when there is none) and the latest one. Fell or rose: by `divergence_min_score_change`
  points or more.

One episode per stretch the condition holds in one direction: `churn_risk.raised` when it starts,
`churn_risk.resolved` when it stops holding (or turns round: the other direction is a new episode).
Ids are uuid5 of the account and the episode number, so a replay of the same history re-emits the
same ids. Nothing is judged before the account has both a contract and a health record. When no
event arrives, the window does not slide: the next event of the account judges it.

State stays small: ARR points inside the window plus the one before it, and one health point per
UTC day inside the window plus the one before it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final, Literal, TypeVar

from shared.events import deterministic_event_id
from shared.health_reading import HealthReading
from shared.reasons import Reason

KIND: Final = "revenue_health_divergence"
Direction = Literal["arr_up_health_down", "arr_down_health_up"]


@dataclass(frozen=True, slots=True)
class ArrPoint:
    at: datetime
    event_id: str
    arr: tuple[tuple[str, Decimal], ...]
    """Per currency (sorted), the account's ARR after the contract event `event_id`."""


@dataclass(frozen=True, slots=True)
class OpenDivergence:
    direction: Direction
    since: datetime
    episode: int


@dataclass(frozen=True)
class DivergenceState:
    arr: tuple[ArrPoint, ...] = ()
    health: tuple[HealthReading, ...] = ()
    """One reading per UTC day (the day's latest), as `record_health` keeps them."""
    open: OpenDivergence | None = None
    episodes: int = 0


EMPTY_DIVERGENCE = DivergenceState()


@dataclass(frozen=True)
class DivergenceRules:
    window_days: int = 90
    min_arr_change: Decimal = Decimal("0.10")
    min_score_change: float = 15.0


@dataclass(frozen=True)
class DivergenceAlert:
    """A `churn_risk.raised` or `.resolved` of kind revenue_health_divergence, decided at `at`."""

    event_id: str
    alert_id: str
    action: Literal["raised", "resolved"]
    account_id: str
    at: datetime
    direction: Direction
    episode: int
    since: datetime
    severity: Literal["low", "medium", "high"]
    score: float
    previous_score: float
    grade: str
    arr_now: Mapping[str, Decimal]
    reasons: tuple[Reason, ...]


def alert_id(account_id: str, episode: int) -> str:
    return deterministic_event_id(KIND, account_id, str(episode))


def record_arr(state: DivergenceState, point: ArrPoint, *, window_days: int) -> DivergenceState:
    points = sorted((*state.arr, point), key=lambda p: (p.at, p.event_id))
    return replace(state, arr=_within(points, window_days))


def record_health(state: DivergenceState, reading: HealthReading, *, window_days: int) -> DivergenceState:
    day = reading.at.astimezone(UTC).date()
    kept = [p for p in state.health if p.at.astimezone(UTC).date() != day or p.position > reading.position]
    if any(p.at.astimezone(UTC).date() == day for p in kept):
        return state  # a later record of the same day is already the day's point
    points = sorted((*kept, reading), key=lambda p: p.position)
    return replace(state, health=_within(points, window_days))


P = TypeVar("P", ArrPoint, HealthReading)


def _within(points: Sequence[P], window_days: int) -> tuple[P, ...]:
    """The points after the newest one's window start, and the last one at or before it."""
    if not points:
        return ()
    cut = points[-1].at - timedelta(days=window_days)
    before = [p for p in points if p.at <= cut]
    inside = [p for p in points if p.at > cut]
    return tuple(before[-1:] + inside)


def _then(points: Sequence[P], cut: datetime) -> P:
    before = [p for p in points if p.at <= cut]
    return before[-1] if before else points[0]


def judge(state: DivergenceState, account_id: str, *, as_of: datetime, arr_now: Mapping[str, Decimal],
          rules: DivergenceRules) -> tuple[DivergenceState, list[DivergenceAlert]]:
    """The divergence as of `as_of`: the state (episode open or not) and the alerts to emit."""
    if not state.arr or not state.health:
        return state, []
    cut = as_of - timedelta(days=rules.window_days)
    arr_then = _then(state.arr, cut)
    health_then, health_now = _then(state.health, cut), state.health[-1]
    direction = _direction(dict(arr_then.arr), arr_now, health_now.score - health_then.score, rules)
    current = state.open
    if current is not None and current.direction == direction:
        return state, []
    alerts = []
    context = _Context(account_id, as_of, arr_then, health_then, health_now, dict(arr_now), state.arr)
    if current is not None:
        alerts.append(context.alert(current, "resolved"))
        state = replace(state, open=None)
    if direction is not None:
        opened = OpenDivergence(direction, as_of, state.episodes + 1)
        state = replace(state, open=opened, episodes=opened.episode)
        alerts.append(context.alert(opened, "raised"))
    return state, alerts


def _direction(then: Mapping[str, Decimal], now: Mapping[str, Decimal], score_delta: float,
               rules: DivergenceRules) -> Direction | None:
    moves = [(then.get(c, Decimal(0)), now.get(c, Decimal(0))) for c in sorted({*then, *now})]
    grew = all(b >= a for a, b in moves) and any(a > 0 and b >= a * (1 + rules.min_arr_change) for a, b in moves)
    fell = (all(b <= a for a, b in moves) and sum(b for _, b in moves) > 0
            and any(a > 0 and b <= a * (1 - rules.min_arr_change) for a, b in moves))
    if grew and score_delta <= -rules.min_score_change:
        return "arr_up_health_down"
    if fell and score_delta >= rules.min_score_change:
        return "arr_down_health_up"
    return None


@dataclass(frozen=True)
class _Context:
    account_id: str
    as_of: datetime
    arr_then: ArrPoint
    health_then: HealthReading
    health_now: HealthReading
    arr_now: dict[str, Decimal]
    arr_points: tuple[ArrPoint, ...]

    def alert(self, divergence: OpenDivergence, action: Literal["raised", "resolved"]) -> DivergenceAlert:
        the_id = alert_id(self.account_id, divergence.episode)
        up = divergence.direction == "arr_up_health_down"
        severity: Literal["low", "medium", "high"] = "low"
        if up and action == "raised":
            severity = "high" if self.health_now.grade == "red" else "medium"
        return DivergenceAlert(
            event_id=deterministic_event_id(f"churn_risk.{action}", the_id), alert_id=the_id, action=action,
            account_id=self.account_id, at=self.as_of, direction=divergence.direction, episode=divergence.episode,
            since=divergence.since, severity=severity, score=self.health_now.score,
            previous_score=self.health_then.score, grade=self.health_now.grade, arr_now=self.arr_now,
            reasons=self._reasons(divergence, action))

    def _reasons(self, divergence: OpenDivergence, action: str) -> tuple[Reason, ...]:
        since = self.arr_then.at.date().isoformat()
        then = dict(self.arr_then.arr)
        changes = [f"{then.get(c, Decimal(0)):f} to {self.arr_now.get(c, Decimal(0)):f} {c}"
                   for c in sorted({*then, *self.arr_now})]
        total_then = sum(then.values(), Decimal(0))
        total_now = sum(self.arr_now.values(), Decimal(0))
        arr_delta = float((total_now - total_then) / total_then * 100) if total_then else 0.0
        score_delta = self.health_now.score - self.health_then.score
        verb = ("rose" if arr_delta > 0 else "fell") if arr_delta else "held"
        health_verb = "rose" if score_delta > 0 else "fell" if score_delta < 0 else "held"
        direction = ("ARR grows while health falls" if divergence.direction == "arr_up_health_down"
                     else "ARR falls while health rises")
        summary = (f"{direction} (since {divergence.since.date().isoformat()})" if action == "raised"
                   else f"no longer: {direction.lower()} (since {divergence.since.date().isoformat()})")
        return (
            Reason("divergence", 0.0, summary, ()),
            Reason("arr", round(arr_delta, 2), f"ARR {verb} from {', '.join(changes)} since {since}",
                   tuple(p.event_id for p in self.arr_points if p.at >= self.arr_then.at)),
            Reason("health", round(score_delta, 2),
                   f"health {health_verb} from {self.health_then.score:g} to {self.health_now.score:g} "
                   f"({self.health_now.grade}) since {self.health_then.at.date().isoformat()}",
                   tuple(dict.fromkeys((self.health_then.event_id, self.health_now.event_id)))),
        )
