"""Hand-built account histories for the expansion tests: contract envelopes (days counted from T0),
and the same events as the domain's SignalEvents."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from services.expansion.domain import (
    Catalogue,
    ExpansionSignals,
    SignalEvent,
    Snapshot,
    Thresholds,
    apply_events,
    parse_catalogue,
    snapshot,
)
from shared.events import parse_event

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[3]


def at(day: float) -> datetime:
    return T0 + timedelta(days=day)


def default_catalogue() -> Catalogue:
    return parse_catalogue(yaml.safe_load((REPO / "deploy" / "catalogue.yaml").read_text()))


@dataclass
class Story:
    account_id: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, day: float, event_type: str, data: dict[str, Any]) -> str:
        event_id = f"{self.account_id}-{len(self.events):05d}"
        self.events.append({"event_id": event_id, "type": event_type, "schema_version": 1,
                            "account_id": self.account_id, "occurred_at": at(day).isoformat(), "data": data})
        return event_id

    def contract(self, day: float = 0, *, seats: int = 10, products: tuple[str, ...] = ("core",),
                 arr: str = "60000", event_type: str = "contract.signed", contract_id: str = "k1") -> str:
        return self.add(day, event_type, {
            "contract_id": f"{self.account_id}-{contract_id}", "arr": arr, "seats": seats, "products": list(products),
            "start_date": at(day).date().isoformat(), "end_date": at(day + 365).date().isoformat()})

    def usage(self, first_day: int, last_day: int, users: int, *, feature: str = "reports") -> None:
        for day in range(first_day, last_day + 1):
            for user in range(users):
                self.add(day + 0.1 + user / 10_000, "usage.recorded",
                         {"user_id": f"u{user}", "feature": feature, "product": "core"})

    def feature(self, days: range, feature: str, *, user: str = "u0") -> list[str]:
        return [self.add(day + 0.5, "usage.recorded", {"user_id": user, "feature": feature}) for day in days]

    def survey(self, day: float, kind: str, score: int) -> str:
        return self.add(day, "survey.answered", {"kind": kind, "score": score})


def signal_events(events: list[dict[str, Any]]) -> list[SignalEvent]:
    parsed = [parse_event(e) for e in events]
    return [SignalEvent(p.event_id, p.type, p.occurred_at, p.data.model_dump()) for p in parsed]


def fold(story: Story) -> ExpansionSignals:
    return apply_events(ExpansionSignals(), signal_events(story.events))


def snap_of(story: Story, *, as_of: datetime | None = None, thresholds: Thresholds | None = None) -> Snapshot:
    signals = fold(story)
    assert signals.latest_at is not None
    return snapshot(story.account_id, signals, thresholds or Thresholds(), as_of=as_of or signals.latest_at)


def upsell_story(account_id: str = "acct-up") -> Story:
    """10 seats of core, all 10 users active every day for 20 days, forecasting used on 6 days,
    NPS 10 on day 18: seat_limit, premium_feature_use (planning) and high_satisfaction."""
    story = Story(account_id)
    story.contract(0, seats=10)
    story.usage(1, 20, 10)
    story.feature(range(10, 16), "forecasting")
    story.survey(18, "nps", 10)
    return story


def steady_story(account_id: str = "acct-steady") -> Story:
    """10 seats, 7 users active (70%), NPS 9, no premium features: nothing to sell."""
    story = Story(account_id)
    story.contract(0, seats=10)
    story.usage(1, 20, 7)
    story.survey(18, "nps", 9)
    return story
