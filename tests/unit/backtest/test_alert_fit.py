"""Fitting alert rules to a book: constructed books of alerts with known answers, judged out of fold."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from services.health.backtest.alert_fit import (
    MIN_JUDGED,
    Judge,
    choose,
    fit_alert_rules,
    wilson_upper,
    with_alert_rules,
)
from services.health.backtest.alert_variants import (
    AccountAlertBook,
    Variant,
    current_variant,
    judge,
    tally,
    variant_grid,
)
from services.health.domain import DEFAULT_SCORECARDS, Scorecard, scorecard_to_json, validate_scorecard
from shared.backtest.baseline import fold_of
from shared.backtest.judging import RaisedAlert
from shared.backtest.outcomes import AccountOutcomes, Coverage

pytestmark = pytest.mark.unit

START = date(2025, 1, 1)
HORIZON = date(2026, 6, 30)
CARDS = DEFAULT_SCORECARDS
GRID = variant_grid(CARDS)
SMB = CARDS["smb"].alerts


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def _book(account: str, *, churn: date | None, alerts: Callable[[Variant], list[RaisedAlert]],
          segment: str = "smb") -> AccountAlertBook:
    outcomes = AccountOutcomes(account, segment, (Coverage(START, churn),))
    return AccountAlertBook(account, segment, outcomes, START, tuple(tuple(alerts(v)) for v in GRID))


def _same(*alerts: RaisedAlert) -> Callable[[Variant], list[RaisedAlert]]:
    """Alerts every variant raises alike (a kind alone in its budget family)."""
    return lambda v: list(alerts)


def _kind_book(accounts: int = 60, *, noisy: Callable[[int], bool] = lambda n: True) -> list[AccountAlertBook]:
    """champion_left is always followed by churn (60 days later); negative_feedback never is (the
    accounts it fires on stay customers to the horizon)."""
    books = []
    for n in range(accounts):
        if n % 2:
            churn = date(2025, 9, 1)
            left = RaisedAlert("champion_left", _at(churn - timedelta(60)))
            books.append(_book(f"a{n}", churn=churn, alerts=_same(left)))
        elif noisy(n):
            complaint = RaisedAlert("negative_feedback", _at(date(2025, 5, 1)))
            books.append(_book(f"a{n}", churn=None, alerts=_same(complaint)))
        else:
            books.append(_book(f"a{n}", churn=None, alerts=_same()))
    return books


def test_the_wilson_upper_bound_is_the_known_one() -> None:
    assert wilson_upper(0, 20) == pytest.approx(0.1192, abs=1e-4)
    assert wilson_upper(10, 20) == pytest.approx(0.6726, abs=1e-4)
    assert wilson_upper(0, 0) == 1.0


def test_each_alert_is_judged_with_its_lead_to_what_followed() -> None:
    churn = date(2025, 9, 1)
    book = _book("a", churn=churn, alerts=_same(RaisedAlert("champion_left", _at(churn - timedelta(45))),
                                                RaisedAlert("grade_red", _at(churn - timedelta(200)))))
    judged = judge(book, 0, frozenset(), horizon=HORIZON)
    assert [(a.kind, a.hit) for a in judged.alerts.judged] == [("champion_left", True), ("grade_red", False)]
    assert judged.leads == (45, None)
    assert [a.kind for a in judge(book, 0, frozenset({"grade_red"}), horizon=HORIZON).alerts.judged] == [
        "champion_left"], "a dropped kind's alerts are gone"


def test_a_kind_never_followed_by_churn_is_proposed_off_and_one_always_followed_is_kept() -> None:
    books = _kind_book()
    fit = fit_alert_rules(books, CARDS, GRID, horizon=HORIZON, folds=5, seed=0)
    rules = fit["rules"]["smb"]
    assert "negative_feedback" not in rules.enabled
    assert {"champion_left", "grade_red", "usage_decline"} <= rules.enabled
    smb = fit["segments"]["smb"]
    assert smb["current"]["by_kind"]["negative_feedback"]["precision"] == 0.0
    assert smb["current"]["by_kind"]["champion_left"]["median_lead_days"] == 60
    assert smb["verdict"].startswith("fitted kinds off")
    oof = smb["kinds_off_out_of_fold"]
    assert oof["precision"] == 1.0 and oof["by_kind"].keys() == {"champion_left"}, "off in every fold"
    assert oof["alerts_per_account_quarter"] < smb["current"]["alerts_per_account_quarter"]
    assert fit["kind_precision"]["smb"] == {"champion_left": 1.0}


def test_a_kind_seen_in_one_fold_only_is_not_decided_from_that_folds_own_accounts() -> None:
    noisy_fold = fold_of("a0", folds=5, seed=0)
    books = _kind_book(300, noisy=lambda n: fold_of(f"a{n}", folds=5, seed=0) == noisy_fold)
    noisy = [b for b in books if any(a.kind == "negative_feedback" for a in b.raised[0])]
    assert len(noisy) >= MIN_JUDGED, "enough to switch it off when fitted on all accounts"
    fit = fit_alert_rules(books, CARDS, GRID, horizon=HORIZON, folds=5, seed=0)
    smb = fit["segments"]["smb"]
    per_fold = {f["fold"]: f["off"] for f in smb["kinds_off_out_of_fold"]["per_fold"]}
    assert "negative_feedback" not in per_fold[noisy_fold], "the other folds never saw it fire"
    assert smb["kinds_off_out_of_fold"]["by_kind"]["negative_feedback"]["raised"] == len(noisy)
    # fitted on every account it would go, but out of fold it changed nothing: the rules in force stay
    judged = Judge(books, GRID, horizon=HORIZON)
    assert "negative_feedback" not in choose(range(len(books)), SMB, judged, fit_sustain=False).rules(SMB).enabled
    assert fit["rules"]["smb"] == SMB and smb["verdict"].startswith("no fit beat the rules in force")


def _sustain_book(accounts: int = 80) -> list[AccountAlertBook]:
    """grade_red held 3-13 days on accounts that stay (a false alert under a sustain of 3 or 7), and
    held over 14 days on accounts that churn (a hit under every sustain)."""
    books = []
    for n in range(accounts):
        if n % 2:
            churn = date(2025, 10, 1)
            onset = churn - timedelta(90)

            def red(v: Variant, onset: date = onset) -> list[RaisedAlert]:
                return [] if v.grade_red is None else [RaisedAlert("grade_red", _at(onset + timedelta(v.grade_red)))]
            books.append(_book(f"a{n}", churn=churn, alerts=red))
        else:
            def brief(v: Variant) -> list[RaisedAlert]:
                held = v.grade_red is not None and v.grade_red < 14
                return [RaisedAlert("grade_red", _at(date(2025, 4, 10)))] if held else []
            books.append(_book(f"a{n}", churn=None, alerts=brief))
    return books


def test_the_sustain_that_drops_the_false_alarms_and_keeps_the_hits_is_proposed_out_of_fold() -> None:
    books = _sustain_book()
    fit = fit_alert_rules(books, CARDS, GRID, horizon=HORIZON, folds=5, seed=0)
    smb = fit["segments"]["smb"]
    assert {f["grade_red_sustain_days"] for f in smb["kinds_off_and_sustain_out_of_fold"]["per_fold"]} == {14}
    assert fit["rules"]["smb"].grade_red_sustain_days == 14
    assert fit["rules"]["smb"].enabled == SMB.enabled, "precision 1/2 is above the floor: grade_red stays on"
    assert smb["current"]["precision"] == 0.5
    assert smb["kinds_off_and_sustain_out_of_fold"]["precision"] == 1.0
    assert smb["kinds_off_and_sustain_out_of_fold"]["recall_30d"] == smb["current"]["recall_30d"] == 1.0
    assert fit["book"]["proposed_out_of_fold"]["precision"] == 1.0
    assert fit["rules"]["smb"].budget == SMB.budget and fit["rules"]["smb"].budget_days == SMB.budget_days


def test_a_segment_with_few_judged_alerts_keeps_its_rules() -> None:
    fit = fit_alert_rules(_kind_book(10), CARDS, GRID, horizon=HORIZON, folds=5, seed=0)
    assert fit["rules"]["smb"] == SMB and "rules in force stay" in fit["segments"]["smb"]["kept"]


def test_fitted_rules_make_a_valid_proposal_even_where_the_weights_were_kept() -> None:
    fit = fit_alert_rules(_kind_book(), CARDS, GRID, horizon=HORIZON, folds=5, seed=0)
    proposed = with_alert_rules({}, CARDS, fit, source="test book")
    assert set(proposed) == {"smb"}, "only a segment whose rules changed"
    card: Scorecard = proposed["smb"]
    assert card.version == CARDS["smb"].version + 1 and card.weights == CARDS["smb"].weights
    assert card.calibration is not None and card.calibration.kind_precision == {"champion_left": 1.0}
    assert validate_scorecard(scorecard_to_json(card)) == card, "the proposal is a valid PUT body"


def test_the_rules_in_force_are_one_of_the_variants() -> None:
    assert current_variant(SMB) in GRID and len(GRID) == len(set(GRID)) == 16
    assert all(v.rules(SMB).budget == SMB.budget for v in GRID)


def test_an_alert_followed_too_late_to_act_on_is_worth_nothing_and_one_not_followed_costs_half() -> None:
    churn = date(2025, 9, 1)
    early, late, wrong = (_book(name, churn=c, alerts=_same(RaisedAlert("grade_red", _at(day))))
                          for name, c, day in (("early", churn, churn - timedelta(40)),
                                               ("late", churn, churn - timedelta(10)),
                                               ("wrong", None, date(2025, 3, 1))))
    judged = [judge(b, 0, frozenset(), horizon=HORIZON) for b in (early, late, wrong)]
    t = tally(judged)
    assert (t.judgeable, t.followed, t.timely) == (3, 2, 1)
    assert t.value == 1 - 0.5
