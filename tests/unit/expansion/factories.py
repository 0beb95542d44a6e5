"""Hand-built account histories for the expansion tests: contract envelopes (days counted from T0),
the health and churn-risk records expansion reads, and the same events as the domain's SignalEvents."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import yaml

from services.expansion.domain import (
    Catalogue,
    Decided,
    ExpansionSignals,
    SignalEvent,
    Snapshot,
    Thresholds,
    apply_events,
    decide,
    parse_catalogue,
    snapshot,
)
from services.expansion.inputs import parse_expansion_input, signal_event
from shared.consumer import ConsumedEvent
from tests import stories
from tests.stories import at

REPO = Path(__file__).resolve().parents[3]


def default_catalogue() -> Catalogue:
    return parse_catalogue(yaml.safe_load((REPO / "deploy" / "catalogue.yaml").read_text()))


class Story(stories.Story):
    """One account's events, with the kinds expansion's tests need."""

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

    def health(self, day: float, grade: str, score: float) -> str:
        """A `health.changed` as the health service writes it (an output event, not an envelope)."""
        return self._output(day, "health.changed", {
            "score": score, "grade": grade, "previous_score": None, "previous_grade": None,
            "components": {"adoption": score}, "as_of": at(day).isoformat()})

    def churn_risk(self, day: float, alert_id: str, *, action: str = "raised", kind: str = "grade_red") -> str:
        """A churn-risk record as health or renewals write it (`alert_id` and `action` beside the contract's)."""
        event_type = "churn_risk.resolved" if action == "resolved" else "churn_risk.raised"
        return self._output(day, event_type, {"kind": kind, "severity": "high", "score": 40.0, "grade": "red",
                                              "alert_id": alert_id, "action": action})

    def _output(self, day: float, event_type: str, fields: dict[str, Any]) -> str:
        event_id = f"{self.account_id}-{len(self.events):05d}"
        self.events.append({"event_id": event_id, "type": event_type, "schema_version": 1,
                            "account_id": self.account_id, "occurred_at": at(day).isoformat(),
                            "emitted_at": at(day).isoformat(), **fields})
        return event_id


def signal_events(events: list[dict[str, Any]]) -> list[SignalEvent]:
    """Through the consumer's parser, as the handler gets them (in the order given)."""
    raws = [orjson.dumps(e) for e in events]
    consumed = [ConsumedEvent(parse_expansion_input(raw), "t", 0, n, raw) for n, raw in enumerate(raws)]
    return [signal_event(c) for c in consumed]


def decide_story(story: Story, *, chunk: int | None = None, catalogue: Catalogue | None = None,
                 thresholds: Thresholds | None = None) -> Decided:
    """The story folded through `decide` in event time, in one call or in chunks of `chunk` events
    (batches), each chunk carrying on from the last."""
    events = sorted(signal_events(story.events), key=lambda e: (e.occurred_at, e.event_id))
    state = Decided(ExpansionSignals())
    step = chunk or len(events) or 1
    for start in range(0, len(events), step):
        state = decide(state, story.account_id, events[start:start + step], catalogue=catalogue or default_catalogue(),
                       thresholds=thresholds or Thresholds())
    return state


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
