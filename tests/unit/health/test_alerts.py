"""Churn-risk alerts: raise, no repeat while open, escalate on worsening, resolve, cool-down, ids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

import pytest

from services.health.domain import (
    ALERT_KINDS,
    DEFAULT_SCORECARDS,
    EMPTY_SIGNALS,
    AccountSignals,
    AlertDecision,
    AlertDecisions,
    ComponentScore,
    GradeThresholds,
    HealthScore,
    OpenAlert,
    Scorecard,
    alert_id,
    evaluate_alerts,
    score_account,
)
from services.health.domain.scoring import combine
from services.health.outputs import churn_risk
from tests.unit.health.factories import History, at, healthy_account

pytestmark = pytest.mark.unit

# The raise / escalate / resolve mechanics, without the fatigue rules (sustain, budget) in the way:
# those have tests of their own below.
ENTERPRISE = replace(DEFAULT_SCORECARDS["enterprise"], thresholds=GradeThresholds(70, 65, 40, 45), alerts=replace(
    DEFAULT_SCORECARDS["enterprise"].alerts, cooldown_days=14, budget=99, grade_red_sustain_days=0,
    score_drop_sustain_days=0, usage_decline_sustain_days=0, champion_left_sustain_days=0,
    enabled=frozenset(ALERT_KINDS)))
ACCOUNT = "acme"


def _evaluate(
    signals: AccountSignals,
    current: HealthScore,
    day: float,
    *,
    card: Scorecard = ENTERPRISE,
    previous: HealthScore | None = None,
    history: Sequence[tuple[datetime, float]] = (),
    open_alerts: Mapping[str, OpenAlert] | None = None,
    last_resolved: Mapping[str, datetime] | None = None,
    episodes: Mapping[str, int] | None = None,
) -> AlertDecisions:
    return evaluate_alerts(account_id=ACCOUNT, previous=previous, current=current, score_history=history,
                           open_alerts=open_alerts or {}, signals=signals, scorecard=card, as_of=at(day),
                           last_resolved=last_resolved, episodes=episodes)


def _open(decision: AlertDecision) -> dict[str, OpenAlert]:
    state = decision.open_alert()
    assert state is not None
    return {decision.kind: state}


def _kinds(decisions: AlertDecisions) -> list[tuple[str, str]]:
    return [(d.kind, d.action) for d in decisions.decisions]


def _champion(decisions: AlertDecisions) -> list[tuple[str, str]]:
    """The departure's decisions alone: the factory's usage ends on day 100, so by day 111 the account
    has been silent for 11 days with its daily users down a third, which usage_decline rightly reports."""
    return [k for k in _kinds(decisions) if k[0] == "champion_left"]


class TestChampionLeft:
    def _account(self) -> History:
        h = healthy_account(days=100)
        self.left = h.contact(100, "c-0", "champion", "left")
        return h

    def test_raised_once_then_resolved_by_a_replacement(self) -> None:
        h = self._account()
        score = score_account(h.signals(), ENTERPRISE, as_of=at(101), previous_grade="green")
        raised = _evaluate(h.signals(), score, 101)
        assert _kinds(raised) == [("champion_left", "raised")]
        alert = raised.raised[0]
        assert alert.severity == "high" and alert.episode_start == at(100)
        # Pinned (tests/unit/events/test_pinned_ids.py says why): a published id never changes.
        assert (alert.alert_id, alert.event_id) == ("198ebf41-5162-5147-8450-39971b9674a4",
                                                    "ef61d226-ea44-573a-adbf-1b9a0849db88")
        assert alert.reasons[0].detail == "champion Jane (c-0) left yesterday and no replacement has joined"
        assert self.left in alert.reasons[0].evidence_event_ids
        data = churn_risk("acme", alert, emitted_at=at(101)).published()
        assert data["kind"] == "champion_left" and data["arr_at_risk"] == "120000"
        assert alert.event_type == "churn_risk.raised"

        opened = _open(alert)
        again = score_account(h.signals(), ENTERPRISE, as_of=at(105), previous_grade="green")
        assert _evaluate(h.signals(), again, 105, open_alerts=opened).decisions == ()  # no repeat

        h.contact(110, "c-9", "champion", name="Lee")
        replaced = score_account(h.signals(), ENTERPRISE, as_of=at(111), previous_grade="green")
        assert replaced.components["relationship"].facts["champion_unreplaced_days"] is None
        resolved = _evaluate(h.signals(), replaced, 111, open_alerts=opened)
        assert _champion(resolved) == [("champion_left", "resolved")]
        assert resolved.resolved[0].alert_id == alert.alert_id
        assert resolved.resolved[0].event_type == "churn_risk.resolved"

    def test_ids_are_stable_across_recomputation_and_replay(self) -> None:
        h = self._account()
        first = _evaluate(h.signals(), score_account(h.signals(), ENTERPRISE, as_of=at(101), previous_grade=None),
                          101)
        same = _evaluate(h.signals(), score_account(h.signals(), ENTERPRISE, as_of=at(101), previous_grade=None),
                         101)
        assert first == same
        later = _evaluate(h.signals(), score_account(h.signals(), ENTERPRISE, as_of=at(104), previous_grade=None),
                          104)
        # the episode starts at the departure, whenever it is first evaluated; it is the account's first
        assert later.raised[0].alert_id == first.raised[0].alert_id
        assert later.raised[0].event_id == first.raised[0].event_id
        assert later.raised[0].episode_start == first.raised[0].episode_start == at(100)
        assert alert_id(ACCOUNT, "champion_left", 1) == first.raised[0].alert_id

    def test_a_further_departure_worsens_the_open_alert(self) -> None:
        h = self._account()
        score = score_account(h.signals(), ENTERPRISE, as_of=at(101), previous_grade="green")
        alert = _evaluate(h.signals(), score, 101).raised[0]
        h.contact(103, "c-1", "exec_sponsor", "left")
        worse = score_account(h.signals(), ENTERPRISE, as_of=at(104), previous_grade="green")
        decisions = _evaluate(h.signals(), worse, 104, open_alerts=_open(alert))
        assert _kinds(decisions) == [("champion_left", "escalated")]
        escalated = decisions.raised[0]
        assert escalated.alert_id == alert.alert_id and escalated.event_id != alert.event_id
        assert escalated.magnitude == 2 and escalated.event_type == "churn_risk.raised"

    def test_the_replacement_leaving_too_is_a_new_episode_with_a_new_id(self) -> None:
        h = self._account()
        first = _evaluate(h.signals(), score_account(h.signals(), ENTERPRISE, as_of=at(101), previous_grade="green"),
                          101).raised[0]
        h.contact(110, "c-9", "champion", name="Lee")
        resolved = _evaluate(h.signals(), score_account(h.signals(), ENTERPRISE, as_of=at(111),
                                                        previous_grade="green"), 111, open_alerts=_open(first))
        assert _champion(resolved) == [("champion_left", "resolved")]
        h.contact(140, "c-9", "champion", "left")  # Jane's departure is unreplaced again, and Lee's is new
        again = _evaluate(h.signals(), score_account(h.signals(), ENTERPRISE, as_of=at(141), previous_grade="green"),
                          141, last_resolved={"champion_left": at(111)}, episodes={"champion_left": 1})
        champion = [d for d in again.decisions if d.kind == "champion_left"]
        assert [d.action for d in champion] == ["raised"]
        assert champion[0].episode_start == at(140)
        assert champion[0].alert_id != first.alert_id and champion[0].event_id != first.event_id


def _synthetic(total: float, day: float, card: Scorecard = ENTERPRISE) -> HealthScore:
    """A score with the given total (only the usage component carries it)."""
    only_usage = replace(card, weights={"usage": 1}, critical_measures=())
    return combine([ComponentScore("usage", total)], only_usage, as_of=at(day), previous_grade=None)


class TestScoreDrop:
    history = [(at(d), v) for d, v in ((0, 88.0), (10, 90.0), (20, 86.0))]

    def _run(self, total: float, day: float, open_alerts: Mapping[str, OpenAlert] | None = None,
             last_resolved: Mapping[str, datetime] | None = None) -> AlertDecisions:
        return _evaluate(EMPTY_SIGNALS, _synthetic(total, day), day, history=self.history,
                         open_alerts=open_alerts, last_resolved=last_resolved)

    def test_cool_down_no_repeat_escalation_and_resolve(self) -> None:
        assert self._run(76, 25).decisions == ()  # 14 points: under the 15-point rule
        raised = self._run(72, 25)
        assert _kinds(raised) == [("score_drop", "raised")]
        alert = raised.raised[0]
        assert (alert.magnitude, alert.baseline, alert.severity) == (18, 90, "low")  # 72 is still green
        assert alert.reasons[0].detail == "score fell 18 points from 90 to 72 within 30 days"
        opened = _open(alert)

        assert self._run(72, 26, opened).decisions == ()  # same condition: no new alert
        assert self._run(71, 27, opened).decisions == ()  # 19 down: not a full step (10) further
        yellow = self._run(66, 27, opened)  # 24 down and now yellow: the severity rises
        assert [(d.action, d.severity) for d in yellow.decisions] == [("escalated", "medium")]
        opened = _open(yellow.raised[0])
        assert self._run(65.5, 27.5, opened).decisions == ()  # 24.5 down: same severity, not 10 beyond 24
        worse = self._run(60, 28, opened)
        assert _kinds(worse) == [("score_drop", "escalated")]
        assert worse.raised[0].severity == "high" and worse.raised[0].alert_id == alert.alert_id
        assert len({alert.event_id, yellow.raised[0].event_id, worse.raised[0].event_id}) == 3

        assert self._run(82, 35, opened).decisions == ()  # not half recovered
        resolved = self._run(83, 36, opened)
        assert _kinds(resolved) == [("score_drop", "resolved")]
        assert resolved.resolved[0].reasons[0].detail == "score recovered to 83 (it was 90 before the drop)"

        quiet = self._run(70, 40, last_resolved={"score_drop": at(36)})  # drops again within 14 days
        assert quiet.decisions == () and [s.kind for s in quiet.suppressed] == ["score_drop"]

    def test_a_new_episode_after_the_cool_down_gets_a_new_id(self) -> None:
        history = [(at(45), 90.0)]
        decisions = _evaluate(EMPTY_SIGNALS, _synthetic(70, 51), 51, history=history,
                              last_resolved={"score_drop": at(36)}, episodes={"score_drop": 1})
        first = _evaluate(EMPTY_SIGNALS, _synthetic(72, 25), 25, history=self.history).raised[0]
        assert _kinds(decisions) == [("score_drop", "raised")]
        assert decisions.raised[0].alert_id != first.alert_id


def test_grade_red_is_critical_when_renewal_is_near() -> None:
    h = History()
    h.contract(0, start=0, end=120)
    far = _evaluate(h.signals(), _synthetic(30, 10), 10)
    near = _evaluate(h.signals(), _synthetic(30, 40), 40)
    assert [(d.kind, d.severity) for d in far.raised] == [("grade_red", "high")]
    assert [(d.kind, d.severity) for d in near.raised] == [("grade_red", "critical")]
    assert near.raised[0].days_to_renewal == 80
    # an open high alert becomes critical as renewal approaches: that is a worsening
    escalated = _evaluate(h.signals(), _synthetic(30, 40), 40, open_alerts=_open(far.raised[0]))
    assert _kinds(escalated) == [("grade_red", "escalated")]
    resolved = _evaluate(h.signals(), _synthetic(50, 41), 41, open_alerts=_open(far.raised[0]))
    assert _kinds(resolved) == [("grade_red", "resolved")]


def test_usage_decline_raises_and_resolves_when_users_return() -> None:
    h = healthy_account(days=90, users=48)
    h.active_users(91, 122, 12)
    h.customer_success(91, 140)
    card = replace(ENTERPRISE, alerts=replace(ENTERPRISE.alerts, enabled=frozenset({"usage_decline"})))
    score = score_account(h.signals(121.9), card, as_of=at(121.9), previous_grade="green")
    raised = _evaluate(h.signals(121.9), score, 121.9, card=card)
    assert _kinds(raised) == [("usage_decline", "raised")]
    alert = raised.raised[0]
    assert (alert.magnitude, alert.baseline, alert.severity) == (74.4, 15.6, "high")
    assert "users active on an average day fell from 15.6 to 4.0 of 60 seats against the 30 days before" in [
        r.detail for r in alert.reasons]
    h.active_users(123, 160, 45)  # users come back
    back = score_account(h.signals(160), card, as_of=at(160), previous_grade="red")
    resolved = _evaluate(h.signals(160), back, 160, card=card, open_alerts=_open(alert))
    assert _kinds(resolved) == [("usage_decline", "resolved")]


class TestUsageVolumeDecline:
    """Usage without user ids: a fall in volume alerts only while the usage component itself reads red
    under the default rules (its level and recency hold it at 55-70 after a halving, so the old gate at
    50 never let it fire on the archetype books)."""

    card = replace(DEFAULT_SCORECARDS["enterprise"], alerts=replace(
        DEFAULT_SCORECARDS["enterprise"].alerts, usage_decline_sustain_days=0, enabled=frozenset({"usage_decline"})))

    def _usage(self, score: float, decline: float) -> HealthScore:
        usage = ComponentScore("usage", score, {"usage_decline_pct": decline, "active_users_decline_pct": None,
                                                "daily_active_users_recent": None, "daily_active_users_prior": None})
        only_usage = replace(self.card, weights={"usage": 1}, critical_measures=())
        return combine([usage], only_usage, as_of=at(100), previous_grade=None)

    def _run(self, score: float, decline: float) -> AlertDecisions:
        return _evaluate(EMPTY_SIGNALS, self._usage(score, decline), 100, card=self.card)

    def test_a_halving_that_leaves_usage_red_alerts(self) -> None:
        raised = self._run(60.0, 80.0)
        assert _kinds(raised) == [("usage_decline", "raised")]
        assert (raised.raised[0].magnitude, raised.raised[0].severity) == (80.0, "high")
        assert _kinds(self._run(67.9, 50.0)) == [("usage_decline", "raised")]

    def test_a_fall_to_a_usage_level_still_outside_the_red_band_does_not(self) -> None:
        assert self._run(68.0, 80.0).decisions == ()
        assert self._run(85.0, 90.0).decisions == ()

    def test_a_fall_of_less_than_half_does_not(self) -> None:
        assert self._run(40.0, 49.9).decisions == ()

    def test_the_default_gate_is_the_grades_red_line(self) -> None:
        for card in DEFAULT_SCORECARDS.values():
            assert card.alerts.usage_decline_max_usage_score == card.thresholds.red_enter


def test_a_run_of_negative_feedback() -> None:
    h = healthy_account(days=60)
    card = replace(ENTERPRISE, alerts=replace(ENTERPRISE.alerts, enabled=frozenset({"negative_feedback"})))
    first = h.survey(50, "nps", 3)
    h.interaction(55, "call", sentiment=-0.8)

    def run(day: float, open_alerts: Mapping[str, OpenAlert] | None = None) -> AlertDecisions:
        score = score_account(h.signals(day), card, as_of=at(day), previous_grade="green")
        return _evaluate(h.signals(day), score, day, card=card, open_alerts=open_alerts)

    assert run(56).decisions == ()  # two items: not yet a run of three
    h.survey(58, "csat", 1)
    raised = run(59)
    assert _kinds(raised) == [("negative_feedback", "raised")]
    alert = raised.raised[0]
    assert alert.episode_start == at(50) and first in alert.reasons[0].evidence_event_ids
    assert alert.reasons[0].detail == \
        "3 negative feedback items since 2026-02-24: NPS 3, an interaction rated -0.8, CSAT 1"
    opened = _open(alert)
    h.survey(60, "nps", 2)
    assert run(60.5, opened).decisions == ()  # four: worse, but not a further run
    assert _kinds(run(89, opened)) == []  # the last item is 29 days old
    assert _kinds(run(91, opened)) == [("negative_feedback", "resolved")]


def test_disabled_rules_do_not_alert() -> None:
    card = replace(ENTERPRISE, alerts=replace(ENTERPRISE.alerts, enabled=frozenset()))
    assert _evaluate(EMPTY_SIGNALS, _synthetic(10, 5), 5, card=card).decisions == ()


class TestFatigue:
    """A condition alerts once it has held for its sustain days, and an account gets at most the budget
    of new episodes per family of trouble in any half year."""

    card = DEFAULT_SCORECARDS["enterprise"]

    def _red(self, day: float, onsets: Mapping[str, datetime] | None = None,
             recent: Sequence[tuple[datetime, str]] = (), card: Scorecard | None = None) -> AlertDecisions:
        return evaluate_alerts(account_id=ACCOUNT, previous=None, current=_synthetic(20, day), score_history=(),
                               open_alerts={}, signals=EMPTY_SIGNALS, scorecard=card or self.card, as_of=at(day),
                               onsets=onsets, recent_raises=recent)

    def test_a_red_grade_alerts_only_after_it_has_held_for_a_week(self) -> None:
        first = self._red(10)
        assert first.raised == () and first.onsets == {"grade_red": at(10)}
        assert [s.kind for s in first.suppressed] == ["grade_red"]
        assert self._red(16.9, first.onsets).raised == ()
        held = self._red(17, first.onsets)
        assert _kinds(held) == [("grade_red", "raised")] and held.onsets == {"grade_red": at(10)}

    def test_a_break_in_the_condition_starts_the_week_again(self) -> None:
        first = self._red(10)
        green = evaluate_alerts(account_id=ACCOUNT, previous=None, current=_synthetic(90, 12), score_history=(),
                                open_alerts={}, signals=EMPTY_SIGNALS, scorecard=self.card, as_of=at(12),
                                onsets=first.onsets)
        assert green.onsets == {}
        assert self._red(18, green.onsets).raised == ()

    def test_the_budget_holds_back_a_second_episode_of_a_family_within_half_a_year(self) -> None:
        onsets = {"grade_red": at(0)}
        over = self._red(30, onsets, recent=[(at(0), "usage_decline")])
        assert over.raised == () and "budget 1" in over.suppressed[0].reason
        assert _kinds(self._red(183, onsets, recent=[(at(0), "usage_decline")])) == [("grade_red", "raised")]
        other_trouble = self._red(30, onsets, recent=[(at(0), "champion_left")])
        assert _kinds(other_trouble) == [("grade_red", "raised")], "another family of trouble is news"
        h = History()
        h.contract(0, start=0, end=60)  # renews in a month: a red grade is critical, and still within budget
        near = evaluate_alerts(account_id=ACCOUNT, previous=None, current=_synthetic(20, 30), score_history=(),
                               open_alerts={}, signals=h.signals(), scorecard=self.card, as_of=at(30),
                               onsets=onsets, recent_raises=[(at(0), "grade_red")])
        assert near.raised == () and [s.kind for s in near.suppressed] == ["grade_red"]

    def test_a_departure_seen_late_counts_its_week_from_when_it_happened(self) -> None:
        h = healthy_account(days=100)
        h.contact(100, "c-0", "champion", "left")
        # The departure reached the score only on day 106 (its event came late): it has still been
        # unreplaced since day 100, so the week is up on day 107, not day 113.
        late = evaluate_alerts(account_id=ACCOUNT, previous=None, current=_synthetic(80, 106), score_history=(),
                               open_alerts={}, signals=h.signals(), scorecard=self.card, as_of=at(106))
        assert late.raised == () and late.onsets == {"champion_left": at(100)}
        due = evaluate_alerts(account_id=ACCOUNT, previous=None, current=_synthetic(80, 107), score_history=(),
                              open_alerts={}, signals=h.signals(), scorecard=self.card, as_of=at(107),
                              onsets=late.onsets)
        assert _kinds(due) == [("champion_left", "raised")]

    def test_score_drop_is_off_by_default(self) -> None:
        assert "score_drop" not in self.card.alerts.enabled
