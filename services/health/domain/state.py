"""What the health service keeps per account between evaluations, and its JSON form.

`StoredAccount` is the whole per-account state: the folded signals, the last score (whose `as_of`
is the account's latest evaluation point), what the alert rules remember, and the recent score
points the score-drop rule looks back over. The store saves and loads it as JSON; nothing else in
the domain knows about storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.health.domain.alert_decisions import AlertDecisions, OpenAlert
from services.health.domain.scoring import HealthScore
from services.health.domain.signals import EMPTY_SIGNALS, AccountSignals

ScorePoint = tuple[datetime, float]


@dataclass(frozen=True, slots=True)
class AlertState:
    """What the alert rules remember between evaluations: the open alert of each kind, when each
    kind last resolved (for the cool-down), and how many episodes of each kind have been raised
    (the next episode's number goes into its alert id, so two episodes never share an id)."""

    open: Mapping[str, OpenAlert] = field(default_factory=dict)
    last_resolved: Mapping[str, datetime] = field(default_factory=dict)
    episodes: Mapping[str, int] = field(default_factory=dict)
    onsets: Mapping[str, datetime] = field(default_factory=dict)
    """kind -> since when its condition has held without a break (it alerts once held long enough)."""
    recent_raises: tuple[tuple[datetime, str], ...] = ()
    """When, and of which kind, the account's recent episodes were raised (the budget; a year kept)."""

    def after(self, decisions: AlertDecisions, *, as_of: datetime) -> AlertState:
        if not decisions.raised and not decisions.resolved:  # most points: only the onsets move
            kept = tuple(r for r in self.recent_raises if as_of - r[0] < timedelta(days=366))
            return AlertState(self.open, self.last_resolved, self.episodes, dict(decisions.onsets), kept)
        still_open = dict(self.open)
        resolved_at = dict(self.last_resolved)
        episodes = dict(self.episodes)
        raises = [(t, kind) for t, kind in self.recent_raises if as_of - t < timedelta(days=366)]
        for decision in decisions.raised:
            if decision.action == "raised":
                episodes[decision.kind] = episodes.get(decision.kind, 0) + 1
                raises.append((decision.occurred_at, decision.kind))
            opened = decision.open_alert()
            if opened is not None:
                still_open[decision.kind] = opened
        for decision in decisions.resolved:
            still_open.pop(decision.kind, None)
            resolved_at[decision.kind] = decision.occurred_at
        return AlertState(still_open, resolved_at, episodes, dict(decisions.onsets), tuple(raises))


@dataclass(frozen=True, slots=True)
class StoredAccount:
    """An account as the store keeps it between evaluations (a new account is all defaults)."""

    account_id: str
    signals: AccountSignals = EMPTY_SIGNALS
    score: HealthScore | None = None
    alert_state: AlertState = AlertState()
    recent_scores: tuple[ScorePoint, ...] = ()
    """Score points of the last `score_drop_days`, at most one a day (the day's highest): what the
    score-drop rule needs, without reading the history table in the hot path."""
    last_event_at: datetime | None = None

    @property
    def last_point(self) -> datetime | None:
        """The account's latest evaluation point (event time); evaluation never goes back before it."""
        return None if self.score is None else self.score.as_of


# --- JSON ---------------------------------------------------------------------------------------


def alert_state_to_json(state: AlertState) -> dict[str, Any]:
    return {
        "open": {
            kind: {"alert_id": a.alert_id, "severity": a.severity, "episode_start": a.episode_start.isoformat(),
                   "raised_at": a.raised_at.isoformat(), "magnitude": a.magnitude, "baseline": a.baseline}
            for kind, a in state.open.items()
        },
        "last_resolved": {kind: at.isoformat() for kind, at in state.last_resolved.items()},
        "episodes": dict(state.episodes),
        "onsets": {kind: at.isoformat() for kind, at in state.onsets.items()},
        "recent_raises": [[at.isoformat(), kind] for at, kind in state.recent_raises],
    }


def alert_state_from_json(raw: Mapping[str, Any]) -> AlertState:
    return AlertState(
        open={
            kind: OpenAlert(alert_id=a["alert_id"], kind=kind, severity=a["severity"],
                            episode_start=_moment(a["episode_start"]), raised_at=_moment(a["raised_at"]),
                            magnitude=float(a["magnitude"]),
                            baseline=None if a["baseline"] is None else float(a["baseline"]))
            for kind, a in raw.get("open", {}).items()
        },
        last_resolved={kind: _moment(at) for kind, at in raw.get("last_resolved", {}).items()},
        episodes={kind: int(n) for kind, n in raw.get("episodes", {}).items()},
        onsets={kind: _moment(at) for kind, at in raw.get("onsets", {}).items()},
        recent_raises=tuple((_moment(at), kind) for at, kind in raw.get("recent_raises", ())),
    )


def recent_scores_to_json(points: tuple[ScorePoint, ...]) -> list[list[Any]]:
    return [[at.isoformat(), total] for at, total in points]


def recent_scores_from_json(raw: list[list[Any]]) -> tuple[ScorePoint, ...]:
    return tuple((_moment(at), float(total)) for at, total in raw)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
