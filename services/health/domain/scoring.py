"""score_account: AccountSignals + Scorecard + as_of -> HealthScore (components, total, grade)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.health.domain.components import (
    score_engagement,
    score_relationship,
    score_sentiment,
    score_support,
)
from services.health.domain.contracts import ContractSummary, contract_summary
from services.health.domain.measures import ComponentScore, Part, ScoringContext
from services.health.domain.norms import EMPTY_NORMS, CohortNorms
from services.health.domain.scorecard import (
    COMPONENTS,
    CRITICAL_RULES,
    GRADE_RANK,
    CriticalMeasure,
    GradeThresholds,
    Scorecard,
)
from services.health.domain.signals import AccountSignals
from services.health.domain.usage import score_usage
from shared.days import day_number, parse_moment, require_aware


@dataclass(frozen=True, slots=True)
class HealthScore:
    as_of: datetime
    total: float
    """0-100, one decimal. With no data at all it is the scorecard's neutral score (yellow), and
    `coverage` is 0 so readers can show "not enough data" rather than a judgement."""
    grade: str
    components: Mapping[str, ComponentScore]
    forced_by: str | None = None
    """The critical measure (rule name) that set the grade, when one did."""
    forced_detail: str | None = None
    triggered: tuple[str, ...] = ()
    """All critical measures whose condition held, forcing or not."""
    previous_grade: str | None = None
    segment: str = "default"
    scorecard_version: int = 1
    coverage: float = 0.0
    """Share of the scorecard's weight backed by data (0-1), whatever the missing-data policy."""
    onboarding_discount: float = 0.0
    """Points taken off the total because the customer is in its first ONBOARDING_PRIOR_DAYS."""


ONBOARDING_PRIOR_DAYS = 90
"""Young customers churn most (DOMAIN.md; every book in docs/signal-quality.md), so a customer's first
quarter reads below what its data alone say, by up to one yellow band, until it has stayed that long: the
score orders a young account below an established one with the same usage. Tenure is a prior, not
evidence: it never moves an account across the red line (see `_onboarding_prior`)."""


def grade_with_hysteresis(total: float, previous_grade: str | None, thresholds: GradeThresholds) -> str:
    """Green and red each need more to enter than to stay: from green the score must fall below
    green_exit to leave, from red it must reach red_exit; otherwise the enter thresholds apply."""
    t = thresholds
    if previous_grade == "green" and total >= t.green_exit:
        return "green"
    if previous_grade == "red" and total < t.red_exit:
        return "red"
    if total >= t.green_enter:
        return "green"
    return "red" if total < t.red_enter else "yellow"


def score_account(
    signals: AccountSignals,
    scorecard: Scorecard,
    *,
    as_of: datetime,
    previous_grade: str | None,
    contract: ContractSummary | None = None,
    norms: CohortNorms = EMPTY_NORMS,
) -> HealthScore:
    """`contract`: `contract_summary(signals, <as_of's UTC date>)` when the caller has it already;
    `norms`: the cohort norms in force (none: usage is judged on the account's own history)."""
    as_of = require_aware(as_of, "as_of")
    today = day_number(as_of)
    if contract is None:
        contract = contract_summary(signals, as_of.date())
    days_known = max(1, today - (signals.first_seen_day or today) + 1)
    tenure = today - contract.first_start.toordinal() if contract.first_start else days_known - 1
    ctx = ScoringContext(as_of_day=today, days_known=days_known, tenure_days=max(0, tenure),
                         contract=contract, targets=scorecard.targets, norms=norms)
    components = [score(signals, ctx) for score in
                  (score_usage, score_engagement, score_sentiment, score_support, score_relationship)]
    return _combine(components, scorecard, as_of, previous_grade, fresh=True)


def combine(
    components: Sequence[ComponentScore],
    scorecard: Scorecard,
    *,
    as_of: datetime,
    previous_grade: str | None,
) -> HealthScore:
    """Weighted total, grade and critical measures from component scores (also used to re-total
    after a sentiment override)."""
    return _combine(components, scorecard, as_of, previous_grade, fresh=False)


def _combine(
    components: Sequence[ComponentScore], scorecard: Scorecard, as_of: datetime, previous_grade: str | None,
    *, fresh: bool,
) -> HealthScore:
    """`fresh`: the components were just made for this score and nothing else holds them, so their
    weights are filled in where they are instead of on copies (five fewer objects per point; the
    result is the same)."""
    shares, rounded = _shares(scorecard)
    values: dict[str, float] = {}
    for c in components:
        if c.score is not None:
            values[c.name] = c.score
        elif scorecard.missing_data == "neutral":
            values[c.name] = scorecard.neutral_score
        elif scorecard.missing_data == "zero":
            values[c.name] = 0.0
    used_weight = sum(shares[name] for name in values)
    if used_weight > 0:
        total = round(sum(shares[name] * v for name, v in values.items()) / used_weight, 1)
    else:
        total = scorecard.neutral_score
    weighted: dict[str, ComponentScore] = {}
    for c in components:
        effective = round(shares[c.name] / used_weight, 4) if c.name in values else 0.0
        if fresh:
            object.__setattr__(c, "weight", rounded[c.name])
            object.__setattr__(c, "effective_weight", effective)
            weighted[c.name] = c
        else:  # positional, in the field order
            weighted[c.name] = ComponentScore(c.name, c.score, c.facts, c.parts, c.missing, rounded[c.name], effective)
    total, discount = _onboarding_prior(total, components, scorecard.thresholds, previous_grade)
    grade = grade_with_hysteresis(total, previous_grade, scorecard.thresholds)
    triggered = [(m, v) for m in scorecard.critical_measures
                 if (v := _fact_value(weighted.get(m.component), m)) is not None and v >= m.threshold]
    forced_by = forced_detail = None
    if triggered:
        worst, value = max(triggered, key=lambda mv: GRADE_RANK[mv[0].force_grade])
        if GRADE_RANK[worst.force_grade] >= GRADE_RANK[grade]:
            grade, forced_by = worst.force_grade, worst.rule
            forced_detail = (CRITICAL_RULES[worst.rule].describes.format(value=f"{value:g}")
                             + f" forces {grade} (critical measure: {worst.rule} >= {worst.threshold:g})")
    return HealthScore(
        as_of=as_of, total=total, grade=grade, components=weighted, forced_by=forced_by,
        forced_detail=forced_detail, triggered=tuple(m.rule for m, _ in triggered),
        previous_grade=previous_grade, segment=scorecard.segment, scorecard_version=scorecard.version,
        coverage=round(sum(shares[c.name] for c in components if c.score is not None), 3),
        onboarding_discount=discount,
    )


def onboarding_discount(tenure_days: int, thresholds: GradeThresholds) -> float:
    """How far a customer in its first ONBOARDING_PRIOR_DAYS is held below what its data say: the width
    of the yellow band on its first day, fading linearly to nothing."""
    if tenure_days >= ONBOARDING_PRIOR_DAYS:
        return 0.0
    return (thresholds.green_enter - thresholds.red_enter) * (1 - max(0, tenure_days) / ONBOARDING_PRIOR_DAYS)


def _onboarding_prior(total: float, components: Sequence[ComponentScore], thresholds: GradeThresholds,
                      previous_grade: str | None) -> tuple[float, float]:
    """(total, points taken off) for a young customer whose usage is measured. Never across the red line
    that applies (red_enter, or red_exit for an account already red): youth alone neither makes an
    account red nor keeps it there, so red and its alerts stay on evidence."""
    usage = next((c for c in components if c.name == "usage"), None)
    tenure = None if usage is None or usage.score is None else usage.facts.get("customer_days")
    if not isinstance(tenure, int) or tenure >= ONBOARDING_PRIOR_DAYS:
        return total, 0.0
    floor = thresholds.red_exit if previous_grade == "red" else thresholds.red_enter
    if total <= floor:
        return total, 0.0
    held = round(max(floor, total - onboarding_discount(tenure, thresholds)), 1)
    return held, round(total - held, 1)


_SHARES: dict[int, tuple[Scorecard, dict[str, float], dict[str, float]]] = {}
"""id(scorecard) -> (the scorecard, its weight shares, the shares rounded as components carry them). The
scorecard is held so that its id cannot be reused while it is cached; a handful of scorecards are in
use at a time, so the cache is simply emptied if it ever grows past a few hundred."""


def _shares(scorecard: Scorecard) -> tuple[dict[str, float], dict[str, float]]:
    """`scorecard.weight_shares()` and each rounded to 4 places, computed once per scorecard rather
    than once per evaluation point."""
    hit = _SHARES.get(id(scorecard))
    if hit is not None and hit[0] is scorecard:
        return hit[1], hit[2]
    if len(_SHARES) >= 256:
        _SHARES.clear()
    shares = scorecard.weight_shares()
    rounded = {name: round(share, 4) for name, share in shares.items()}
    _SHARES[id(scorecard)] = (scorecard, shares, rounded)
    return shares, rounded


def _fact_value(c: ComponentScore | None, measure: CriticalMeasure) -> float | None:
    value = None if c is None else c.facts.get(CRITICAL_RULES[measure.rule].fact)
    return float(value) if isinstance(value, int | float) else None


# --- JSON ---------------------------------------------------------------------------------------


def health_score_to_json(score: HealthScore) -> dict[str, Any]:
    return {
        "as_of": score.as_of.isoformat(), "total": score.total, "grade": score.grade,
        "forced_by": score.forced_by, "forced_detail": score.forced_detail,
        "triggered": list(score.triggered), "previous_grade": score.previous_grade,
        "segment": score.segment, "scorecard_version": score.scorecard_version, "coverage": score.coverage,
        "onboarding_discount": score.onboarding_discount,
        "components": {
            name: {
                "score": c.score, "weight": c.weight, "effective_weight": c.effective_weight,
                "missing": c.missing, "facts": dict(c.facts),
                "parts": [{"name": p.name, "score": p.score, "weight": p.weight, "detail": p.detail,
                           "evidence_event_ids": list(p.evidence_event_ids)} for p in c.parts],
            }
            for name, c in score.components.items()
        },
    }


def _float(value: Any) -> float | None:
    # a JSON store may hand 100.0 back as 100; the dataclass promises floats
    return None if value is None else float(value)


def _part(p: Mapping[str, Any]) -> Part:
    score = p["score"]
    return Part(p["name"], None if score is None else float(score), float(p["weight"]), p["detail"],
                tuple(p["evidence_event_ids"]))


def health_score_from_json(raw: Mapping[str, Any]) -> HealthScore:
    # positional arguments and list comprehensions: this runs for every account of every batch
    components = {
        name: ComponentScore(name, _float(c["score"]), dict(c["facts"]), tuple([_part(p) for p in c["parts"]]),
                             c["missing"], float(c["weight"]), float(c["effective_weight"]))
        for name, c in raw["components"].items()
    }
    return HealthScore(
        as_of=parse_moment(raw["as_of"]), total=float(raw["total"]), grade=raw["grade"], components=components,
        forced_by=raw["forced_by"], forced_detail=raw["forced_detail"], triggered=tuple(raw["triggered"]),
        previous_grade=raw["previous_grade"], segment=raw["segment"],
        scorecard_version=int(raw["scorecard_version"]), coverage=float(raw["coverage"]),
        onboarding_discount=float(raw.get("onboarding_discount", 0.0)),  # absent from scores stored before it
    )


def component_scores(score: HealthScore) -> dict[str, float | None]:
    """name -> 0-100 (None when unmeasured), in the contract's `components` shape."""
    return {name: score.components[name].score for name in COMPONENTS if name in score.components}

