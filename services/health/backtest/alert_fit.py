"""Fitting a book's alert rules per segment, pure, judged out of fold by account.

The rules for one set of accounts are chosen from those accounts' alerts alone (`choose`):

1. **kinds off**: a kind with at least `MIN_JUDGED` judgeable alerts under the rules in force whose
   precision is confidently below 1/3 (the upper end of its one-sided 95% Wilson interval under the
   floor) is switched off: with that few alerts followed by churn or contraction, it costs more reading
   than it saves;
2. **sustain days** of the health kinds left on, from the grid (`alert_variants.SUSTAIN_GRID`): the
   variant with the highest value (`alert_variants.FALSE_ALERT_COST`: each alert followed by churn or
   contraction 30 days or more later +1, each not followed -1/2) among those raising at most `RATE_BAR`
   alerts per account-quarter (or the rules in force's rate, if higher); ties keep the days in force,
   then the longer sustain.

Out of fold: accounts are split in folds (the same assignment as the weights' fit); the rules for
fold k are chosen from the other folds' accounts, and fold k's accounts are judged with what those
rules raised on them in the replay. Two fits are judged that way, kinds off alone and kinds off plus
sustain days; the proposal is the one whose out-of-fold value beats the rules in force (kinds off
alone when both do and it is at least as good), else the rules in force stay.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from services.health.backtest.alert_variants import (
    ALONE_KINDS,
    FITTED_KINDS,
    HEALTH_KINDS,
    AccountAlertBook,
    Judged,
    Variant,
    current_variant,
    figures,
    judge,
    kind_tallies,
    tally,
)
from services.health.backtest.fit import MIN_PRECISION_JUDGED
from services.health.backtest.replay import ALERT_KINDS, Scorecard
from services.health.domain import AlertRules
from services.health.domain.calibration import Calibration
from shared.backtest.baseline import grouped_folds
from shared.backtest.judging import PRECISION_BAR, RATE_BAR

MIN_JUDGED = 20
"""Judgeable alerts a kind needs before it may be switched off, and a segment before its rules are fitted."""
CONFIDENCE_Z = 1.645
"""One-sided 95%."""


@dataclass(frozen=True, slots=True)
class Choice:
    variant: Variant
    dropped: frozenset[str]
    """Kinds alone in their budget family switched off (their alerts dropped)."""

    def rules(self, current: AlertRules) -> AlertRules:
        rules = self.variant.rules(current)
        return replace(rules, enabled=rules.enabled - self.dropped)

    def to_json(self) -> dict[str, Any]:
        v = self.variant.to_json()
        return {**v, "off": sorted({*v["off"], *self.dropped})}


def wilson_upper(followed: int, judgeable: int, *, z: float = CONFIDENCE_Z) -> float:
    """Upper end of the Wilson score interval of a proportion."""
    if judgeable == 0:
        return 1.0
    p, n = followed / judgeable, judgeable
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (centre + spread) / (1 + z * z / n))


class Judge:
    """Judges accounts under a choice, remembering each (account, variant, dropped) judged once."""

    def __init__(self, books: Sequence[AccountAlertBook], grid: Sequence[Variant], *, horizon: date) -> None:
        self.books, self.horizon = books, horizon
        self.index = {v: i for i, v in enumerate(grid)}
        self.grid = grid
        self._seen: dict[tuple[int, int, frozenset[str]], Judged] = {}

    def __call__(self, account: int, variant: Variant, dropped: frozenset[str] = frozenset()) -> Judged:
        key = (account, self.index[variant], dropped)
        if key not in self._seen:
            self._seen[key] = judge(self.books[account], key[1], dropped, horizon=self.horizon)
        return self._seen[key]


def kinds_off(judged: Sequence[Judged], enabled: frozenset[str]) -> frozenset[str]:
    tallies = kind_tallies(judged)
    off = set()
    for kind in FITTED_KINDS:
        judgeable, followed = tallies.get(kind, (0, 0))
        if kind in enabled and judgeable >= MIN_JUDGED and wilson_upper(followed, judgeable) < PRECISION_BAR:
            off.add(kind)
    return frozenset(off)


def choose(accounts: Sequence[int], rules: AlertRules, judged: Judge, *, fit_sustain: bool) -> Choice:
    """The rules fitted on `accounts` (indices into the judge's books) alone."""
    current = current_variant(rules)
    base = [judged(i, current) for i in accounts]
    off = kinds_off(base, rules.enabled)
    health_off = off & frozenset(HEALTH_KINDS)
    keep = Variant(health_off, None if "grade_red" in off else current.grade_red,
                   None if "usage_decline" in off else current.usage_decline)
    candidates = [v for v in judged.grid if v.off == health_off] if fit_sustain else [keep]
    cap = max(RATE_BAR, tally(base).rate)
    dropped = off & frozenset(ALONE_KINDS)

    def preference(v: Variant) -> tuple[bool, float, bool, int]:
        t = tally(judged(i, v, dropped) for i in accounts)
        return t.rate <= cap, t.value, v == keep, (v.grade_red or 0) + (v.usage_decline or 0)

    return Choice(max(candidates, key=preference), dropped)


def out_of_fold(accounts: Sequence[int], rules: AlertRules, judged: Judge, *, folds: int, seed: int,
                fit_sustain: bool) -> tuple[list[Judged], list[dict[str, Any]]]:
    """Each account judged under the rules chosen from the other folds' accounts; the choice per fold."""
    ids = [judged.books[i].account_id for i in accounts]
    out: dict[int, Judged] = {}
    chosen = []
    for k, (train, test) in enumerate(grouped_folds(ids, folds=folds, seed=seed)):
        if not test:
            continue
        if train:
            choice = choose([accounts[i] for i in train], rules, judged, fit_sustain=fit_sustain)
        else:  # nothing to fit on: the rules in force
            choice = Choice(current_variant(rules), frozenset())
        chosen.append({"fold": k, "accounts": len(test), **choice.to_json()})
        for i in test:
            out[i] = judged(accounts[i], choice.variant, choice.dropped)
    return [out[i] for i in range(len(accounts))], chosen


def fit_segment_rules(accounts: Sequence[int], rules: AlertRules, judged: Judge, *, folds: int,
                      seed: int) -> tuple[AlertRules, dict[str, Any], list[Judged]]:
    """The proposed rules, the report, and the accounts judged as the proposal is judged (out of fold;
    the rules in force when they stay)."""
    current = [judged(i, current_variant(rules)) for i in accounts]
    report: dict[str, Any] = {"accounts": len(accounts), "current": {**_rules_json(rules),
                                                                     **figures(current, ALERT_KINDS)}}
    if tally(current).judgeable < MIN_JUDGED:
        report["kept"] = f"fewer than {MIN_JUDGED} judgeable alerts: the rules in force stay"
        return rules, report, current
    kinds, kinds_folds = out_of_fold(accounts, rules, judged, folds=folds, seed=seed, fit_sustain=False)
    full, full_folds = out_of_fold(accounts, rules, judged, folds=folds, seed=seed, fit_sustain=True)
    report["kinds_off_out_of_fold"] = {**figures(kinds, ALERT_KINDS), "per_fold": kinds_folds}
    report["kinds_off_and_sustain_out_of_fold"] = {**figures(full, ALERT_KINDS), "per_fold": full_folds}
    now, by_kinds, by_full = tally(current).value, tally(kinds).value, tally(full).value
    if by_kinds > now and by_kinds >= by_full:
        proposed, oof, verdict = choose(accounts, rules, judged, fit_sustain=False).rules(rules), kinds, "kinds off"
    elif by_full > now:
        proposed, oof, verdict = (choose(accounts, rules, judged, fit_sustain=True).rules(rules), full,
                                  "kinds off and sustain days")
    else:
        proposed, oof, verdict = rules, current, None
    report["proposed"] = _rules_json(proposed)
    report["verdict"] = (f"fitted {verdict}: out-of-fold value {by_kinds if oof is kinds else by_full:.1f} "
                         f"against {now:.1f} with the rules in force" if verdict else
                         f"no fit beat the rules in force out of fold (value {now:.1f}; kinds off "
                         f"{by_kinds:.1f}, with sustain days {by_full:.1f}): they stay")
    return proposed, report, oof


def fit_alert_rules(books: Sequence[AccountAlertBook], cards: Mapping[str, Scorecard], grid: Sequence[Variant], *,
                    horizon: date, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Per card segment: the proposed alert rules and the figures of the rules in force and of the fits,
    out of fold; for the whole book, the rules in force against the proposal, out of fold."""
    judged = Judge(books, grid, horizon=horizon)
    by_segment: dict[str, list[int]] = {}
    for i, b in enumerate(books):
        by_segment.setdefault(b.segment if b.segment is not None and b.segment in cards else "default", []).append(i)
    segments: dict[str, Any] = {}
    rules: dict[str, AlertRules] = {}
    precision: dict[str, dict[str, float]] = {}
    current_all: list[Judged] = []
    proposed_all: list[Judged] = []
    for segment in sorted(by_segment):
        accounts = by_segment[segment]
        card = cards[segment]
        rules[segment], segments[segment], oof = fit_segment_rules(accounts, card.alerts, judged, folds=folds,
                                                                   seed=seed)
        current_all.extend(judged(i, current_variant(card.alerts)) for i in accounts)
        proposed_all.extend(oof)
        precision[segment] = {kind: p["precision"] for kind, p in figures(oof, ALERT_KINDS)["by_kind"].items()
                              if p["judgeable"] >= MIN_PRECISION_JUDGED and kind in rules[segment].enabled}
    return {"segments": segments, "rules": rules, "kind_precision": precision,
            "book": {"current": figures(current_all, ALERT_KINDS),
                     "proposed_out_of_fold": figures(proposed_all, ALERT_KINDS)}}


def _rules_json(rules: AlertRules) -> dict[str, Any]:
    return {"enabled": sorted(rules.enabled), "grade_red_sustain_days": rules.grade_red_sustain_days,
            "usage_decline_sustain_days": rules.usage_decline_sustain_days, "budget": rules.budget,
            "budget_days": rules.budget_days}


def with_alert_rules(proposed: Mapping[str, Scorecard], cards: Mapping[str, Scorecard], fit: Mapping[str, Any],
                     *, source: str) -> dict[str, Scorecard]:
    """The proposed cards with the fitted alert rules: a segment whose rules changed gets a proposal even
    when its weights were kept. Each card's kind precision is the segment's own, out of fold under the
    proposed rules, where a kind has `MIN_PRECISION_JUDGED` judgeable alerts, else the book's; a kind
    switched off carries none."""
    out = dict(proposed)
    for segment, rules in fit["rules"].items():
        base = out.get(segment)
        if base is None and rules == cards[segment].alerts:
            continue
        if base is None:
            base = replace(cards[segment], version=cards[segment].version + 1)
        calibration = base.calibration or Calibration(source=source)
        precision = {**calibration.kind_precision, **fit["kind_precision"].get(segment, {})}
        out[segment] = replace(base, alerts=rules, calibration=replace(
            calibration, kind_precision={k: p for k, p in precision.items() if k in rules.enabled}))
    return out
