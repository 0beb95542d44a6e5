"""Alert-rule variants for calibration, pure: which rules are tried, what each would have raised on an
account, and how those alerts are judged (precision, recall, lead time, and the value that picks
between variants).

Only two kinds of change are tried, both of which bound interruptions rather than loosen them:

* a kind switched off. `grade_red` and `usage_decline` share the health family's budget (switching one
  off frees the budget for the other), so each on/off combination is its own replay variant.
  `champion_left` and `negative_feedback` are each alone in their family, and nothing else couples
  kinds (open alerts, cool-downs and episodes are per kind; the budget per family), so switching one off
  removes exactly its own alerts: they are dropped from a variant's alerts, not replayed again;
* the sustain days of `grade_red` and `usage_decline`, from a small grid.

The budget itself (one episode per family per half-year) is never varied: it is issue 8's bound on how
often anyone is interrupted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, timedelta
from typing import Any

from services.health.backtest.replay import Scorecard
from services.health.domain import AlertRules
from shared.backtest.judging import FOLLOW_DAYS, LEAD_DAYS, AccountAlerts, RaisedAlert, alert_summary, judge_account
from shared.backtest.metrics import median, rounded
from shared.backtest.outcomes import AccountOutcomes

HEALTH_KINDS = ("grade_red", "usage_decline")
"""Varied by replay: they share a budget family."""
ALONE_KINDS = ("champion_left", "negative_feedback")
"""Alone in their budget family: off = their alerts dropped, exactly."""
FITTED_KINDS = (*HEALTH_KINDS, *ALONE_KINDS)
SUSTAIN_GRID: Mapping[str, tuple[int, ...]] = {"grade_red": (3, 7, 14), "usage_decline": (7, 14, 21)}
"""Plus whatever the cards in force use. Nine sustain pairs: a variant costs a few per cent of a replay."""
FALSE_ALERT_COST = 0.5
"""The value of a set of alerts: +1 for each followed by churn or contraction at least 30 days later
(early enough to act on: issue 8's recall is counted 30 days ahead), 0 for one followed sooner (true,
too late to help), -1/2 for one not followed. Positive exactly when more than one alert in three is
followed in time: issue 8's precision bar, counted on the alerts that help."""


@dataclass(frozen=True, slots=True, order=True)
class Variant:
    """Alert rules as changed from a card's own: health kinds switched off, and the sustain days of
    the health kinds left on (None for a kind that is off)."""

    off: frozenset[str]
    grade_red: int | None
    usage_decline: int | None

    def rules(self, current: AlertRules) -> AlertRules:
        return replace(current, enabled=current.enabled - self.off,
                       grade_red_sustain_days=self.grade_red or current.grade_red_sustain_days,
                       usage_decline_sustain_days=self.usage_decline or current.usage_decline_sustain_days)

    def to_json(self) -> dict[str, Any]:
        return {"off": sorted(self.off), "grade_red_sustain_days": self.grade_red,
                "usage_decline_sustain_days": self.usage_decline}


def current_variant(rules: AlertRules) -> Variant:
    return Variant(frozenset(), rules.grade_red_sustain_days, rules.usage_decline_sustain_days)


def variant_grid(cards: Mapping[str, Scorecard]) -> tuple[Variant, ...]:
    """Every on/off combination of the health kinds, with every sustain pair of the kinds left on;
    each card's own rules are among them."""
    grid = {k: sorted({*SUSTAIN_GRID[k], *(c.alerts.sustain_days(k) for c in cards.values())}) for k in HEALTH_KINDS}
    out = []
    for off in (frozenset(), frozenset({"grade_red"}), frozenset({"usage_decline"}), frozenset(HEALTH_KINDS)):
        for red in ([None] if "grade_red" in off else grid["grade_red"]):
            for decline in ([None] if "usage_decline" in off else grid["usage_decline"]):
                out.append(Variant(off, red, decline))
    return tuple(out)


def variant_cards(cards: Mapping[str, Scorecard], variant: Variant) -> dict[str, Scorecard]:
    return {segment: replace(card, alerts=variant.rules(card.alerts)) for segment, card in cards.items()}


@dataclass(frozen=True, slots=True)
class AccountAlertBook:
    """One account's alerts under every variant, and what it takes to judge them."""

    account_id: str
    segment: str | None
    outcomes: AccountOutcomes
    observed_from: date
    raised: tuple[tuple[RaisedAlert, ...], ...]
    """Per variant of the grid, in order."""


@dataclass(frozen=True, slots=True)
class Judged:
    """One account's alerts under one choice of rules, judged."""

    alerts: AccountAlerts
    leads: tuple[int | None, ...]
    """Per judged alert: days to the churn or contraction that followed it (None: none followed)."""


def judge(book: AccountAlertBook, variant: int, dropped: frozenset[str], *, horizon: date) -> Judged:
    raised = [a for a in book.raised[variant] if a.kind not in dropped]
    alerts = judge_account(raised, book.outcomes, horizon=horizon, observed_from=book.observed_from)
    leads = tuple(_lead(book.outcomes, j.at.astimezone(UTC).date()) if j.hit else None for j in alerts.judged)
    return Judged(alerts, leads)


def _lead(outcomes: AccountOutcomes, day: date) -> int | None:
    until = day + timedelta(days=FOLLOW_DAYS)
    churn = outcomes.churn_between(day, until)
    change = outcomes.change_between("contraction", day, until)
    first = min((d for d in (churn, change.on if change else None) if d is not None), default=None)
    return None if first is None else (first - day).days


@dataclass(frozen=True, slots=True)
class Tally:
    """What a choice of rules did on a set of accounts, enough to choose between choices."""

    raised: int
    judgeable: int
    followed: int
    quarters: float
    timely: int = 0
    """Followed alerts raised at least `LEAD_DAYS` before what followed them: early enough to act on."""

    @property
    def value(self) -> float:
        return self.timely - FALSE_ALERT_COST * (self.judgeable - self.followed)

    @property
    def rate(self) -> float:
        return self.raised / self.quarters if self.quarters else 0.0


def tally(judged: Iterable[Judged]) -> Tally:
    raised = judgeable = followed = days = timely = 0
    for j in judged:
        raised += len(j.alerts.judged)
        judgeable += sum(a.judgeable for a in j.alerts.judged)
        followed += sum(a.judgeable and a.hit for a in j.alerts.judged)
        timely += sum(lead is not None and lead >= LEAD_DAYS for lead in j.leads)
        days += j.alerts.customer_days
    return Tally(raised, judgeable, followed, days / (365.25 / 4), timely)


def kind_tallies(judged: Sequence[Judged]) -> dict[str, tuple[int, int]]:
    """Per kind: (judgeable, followed)."""
    out: dict[str, tuple[int, int]] = {}
    for j in judged:
        for a in j.alerts.judged:
            n, k = out.get(a.kind, (0, 0))
            out[a.kind] = (n + a.judgeable, k + (a.judgeable and a.hit))
    return out


def figures(judged: Sequence[Judged], kinds: Sequence[str]) -> dict[str, Any]:
    """The figures a person compares: alerts per account-quarter, precision, recall 30 days ahead,
    median lead, the value; per kind its precision and median lead time (days from an alert to the
    churn or contraction that followed it)."""
    summary = alert_summary([j.alerts for j in judged], kinds)
    leads: dict[str, list[float]] = {}
    for j in judged:
        for a, lead in zip(j.alerts.judged, j.leads, strict=True):
            if lead is not None:
                leads.setdefault(a.kind, []).append(float(lead))
    by_kind = {kind: {**p, "median_lead_days": median(leads.get(kind, []))}
               for kind, p in summary["precision_by_kind"].items() if p["raised"]}
    return {"alerts_per_account_quarter": summary["per_account_quarter"], "raised": summary["raised"],
            "precision": summary["precision"]["precision"], "judgeable": summary["precision"]["judgeable"],
            "churners": summary["recall"]["churners"], "recall_30d": summary["recall"]["recall"],
            "median_lead_days": summary["lead_days"]["median"], "value": rounded(tally(judged).value, 1),
            "by_kind": by_kind}
