"""Alerts judged against outcomes: precision, recall 30+ days ahead, lead time, alerts per quarter."""

from __future__ import annotations

from datetime import date

import pytest

from shared.backtest.judging import RaisedAlert, alert_summary, judge_account
from shared.backtest.outcomes import label_outcomes
from tests.unit.backtest.factories import at, cancel, term

pytestmark = pytest.mark.unit

HORIZON = date(2026, 12, 31)

def test_alerts_followed_by_churn_within_120_days_are_hits() -> None:
    outcomes = label_outcomes("acct-1", [
        term("contract.signed", at("2026-01-01"), start="2026-01-01", end="2027-01-01"),
        cancel(at("2026-07-01"), end="2026-07-01")], horizon=HORIZON)
    alerts = [RaisedAlert("grade_red", at("2026-02-01")), RaisedAlert("score_drop", at("2026-04-15")),
              RaisedAlert("usage_decline", at("2026-06-20"))]
    judged = judge_account(alerts, outcomes, horizon=HORIZON, observed_from=date(2026, 1, 1))
    assert [(j.kind, j.hit, j.judgeable) for j in judged.judged] == [
        ("grade_red", False, True), ("score_drop", True, True), ("usage_decline", True, True)]
    (churner,) = judged.churners
    assert churner.alerted_ahead and churner.kinds_ahead == {"score_drop"}
    assert churner.lead_days == 77  # from 2026-04-15 to 2026-07-01

def test_a_churner_alerted_less_than_30_days_ahead_is_missed_and_late_alerts_are_unjudgeable() -> None:
    outcomes = label_outcomes("acct-1", [
        term("contract.signed", at("2026-01-01"), start="2026-01-01", end="2027-01-01"),
        cancel(at("2026-07-01"), end="2026-07-01")], horizon=HORIZON)
    judged = judge_account([RaisedAlert("grade_red", at("2026-06-10"))], outcomes, horizon=HORIZON,
                           observed_from=date(2026, 1, 1))
    assert not judged.churners[0].alerted_ahead and judged.churners[0].lead_days == 21
    quiet = label_outcomes("acct-2", [term("contract.signed", at("2026-01-01"), start="2026-01-01",
                                           end="2028-01-01", account="acct-2")], horizon=HORIZON)
    late = judge_account([RaisedAlert("grade_red", at("2026-10-01"))], quiet, horizon=HORIZON,
                         observed_from=date(2026, 1, 1))
    assert late.judged[0].judgeable is False, "its 120 days are not over at the horizon"
    assert late.churners == ()

def test_contraction_counts_as_a_hit_and_alerts_while_not_a_customer_are_ignored() -> None:
    outcomes = label_outcomes("acct-1", [
        term("contract.signed", at("2025-06-01"), start="2025-06-01", end="2026-03-01", seats=10),
        term("contract.renewed", at("2026-02-20"), start="2026-03-01", end="2027-03-01", seats=6)], horizon=HORIZON)
    judged = judge_account([RaisedAlert("score_drop", at("2026-01-15")), RaisedAlert("score_drop", at("2025-05-01"))],
                           outcomes, horizon=HORIZON, observed_from=date(2025, 5, 1))
    assert [j.hit for j in judged.judged] == [True]
    assert judged.ignored == 1

def test_summary_reports_precision_recall_leads_and_rate_per_account_quarter() -> None:
    outcomes = label_outcomes("acct-1", [
        term("contract.signed", at("2026-01-01"), start="2026-01-01", end="2027-01-01"),
        cancel(at("2026-07-01"), end="2026-07-01")], horizon=HORIZON)
    account = judge_account([RaisedAlert("grade_red", at("2026-02-01")), RaisedAlert("grade_red", at("2026-05-01"))],
                            outcomes, horizon=HORIZON, observed_from=date(2026, 1, 1))
    summary = alert_summary([account], ["grade_red", "score_drop"])
    assert summary["precision"] == {"raised": 2, "judgeable": 2, "followed": 1, "precision": 0.5}
    assert summary["precision_by_kind"]["score_drop"]["precision"] is None
    assert summary["recall"]["recall"] == 1.0 and summary["recall"]["by_kind"] == {"grade_red": 1.0,
                                                                                    "score_drop": 0.0}
    assert summary["lead_days"]["median"] == 61.0
    assert summary["per_account_quarter"] == round(2 / (181 / (365.25 / 4)), 3)


def test_an_earlier_alert_still_open_30_days_ahead_counts_only_in_the_recall_with_open_alerts() -> None:
    outcomes = label_outcomes("acct-1", [
        term("contract.signed", at("2026-01-01"), start="2026-01-01", end="2027-01-01"),
        cancel(at("2026-07-01"), end="2026-07-01")], horizon=HORIZON)

    def churner(alert: RaisedAlert) -> tuple[bool, bool]:
        (c,) = judge_account([alert], outcomes, horizon=HORIZON, observed_from=date(2026, 1, 1)).churners
        return c.alerted_ahead, c.open_ahead

    assert churner(RaisedAlert("grade_red", at("2026-01-15"))) == (False, True)  # 167 days ahead, never resolved
    assert churner(RaisedAlert("grade_red", at("2026-01-15"), resolved_at=at("2026-06-15"))) == (False, True)
    assert churner(RaisedAlert("grade_red", at("2026-01-15"), resolved_at=at("2026-05-01"))) == (False, False)
    assert churner(RaisedAlert("grade_red", at("2026-06-10"))) == (False, False)  # raised 21 days ahead: late
    summary = alert_summary(
        [judge_account([RaisedAlert("grade_red", at("2026-01-15"))], outcomes, horizon=HORIZON,
                       observed_from=date(2026, 1, 1))], ["grade_red"])
    assert summary["recall"]["recall"] == 0.0
    assert summary["recall"]["alerted_or_open_ahead"] == 1 and summary["recall"]["recall_with_open"] == 1.0
