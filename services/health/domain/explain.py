"""Why a score is what it is, and why it changed, in sentences a person reads.

Each Reason carries `delta` in points of the TOTAL score (a component's change weighted by its
share), so reasons from different components sort on one scale. A critical measure that forces the
grade comes first with delta 0 (it moves the grade, not the total), because it decides the grade
on its own.
"""

from __future__ import annotations

from services.health.domain.measures import ComponentScore, Part, plural
from services.health.domain.scorecard import COMPONENTS, CRITICAL_RULES
from services.health.domain.scoring import ONBOARDING_PRIOR_DAYS, HealthScore
from shared.reasons import Reason

MAX_EVIDENCE = 10
MIN_DELTA = 0.1


def _contribution(c: ComponentScore | None) -> float:
    return 0.0 if c is None or c.score is None else c.score * c.effective_weight


def _part_shares(c: ComponentScore) -> dict[str, float]:
    scored = [p for p in c.parts if p.score is not None]
    weight = sum(p.weight for p in scored)
    return {p.name: p.weight / weight for p in scored} if weight > 0 else {}


def _evidence(parts: list[Part]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for p in parts:
        seen.update(dict.fromkeys(p.evidence_event_ids))
    return tuple(seen)[:MAX_EVIDENCE]


def _forced_reason(score: HealthScore, delta: float) -> Reason | None:
    if score.forced_by is None:
        return None
    component = CRITICAL_RULES[score.forced_by].component
    c = score.components.get(component)
    return Reason(component, delta, score.forced_detail or score.forced_by,
                  _evidence(list(c.parts)) if c else ())


def _onboarding_reason(score: HealthScore, delta: float) -> Reason | None:
    """The young-customer prior (`scoring.ONBOARDING_PRIOR_DAYS`) as a sentence, when it takes points off."""
    usage = score.components.get("usage")
    tenure = usage.facts.get("customer_days") if usage is not None else None
    if (not score.onboarding_discount and not delta) or not isinstance(tenure, int):
        return None
    return Reason("usage", delta, f"a customer for {plural(tenure, 'day')}: customers churn most in their first "
                                  f"{ONBOARDING_PRIOR_DAYS} days, so the score is held "
                                  f"{score.onboarding_discount:g} points below what its data say until then "
                                  f"(never into red on that alone)")


def _held_measures(score: HealthScore) -> list[Reason]:
    """Critical measures that hold besides the one that set the grade: news an account manager must see
    first (a champion gone unreplaced, a run of complaints), whatever their weight in the total."""
    out = []
    for rule_name in score.triggered:
        if rule_name == score.forced_by:
            continue
        rule = CRITICAL_RULES[rule_name]
        c = score.components.get(rule.component)
        value = c.facts.get(rule.fact) if c else None
        if c is None or not isinstance(value, int | float):
            continue
        out.append(Reason(rule.component, 0.0, rule.describes.format(value=f"{value:g}") + " (a critical measure)",
                          _evidence(list(c.parts))))
    return out


def part_reason(score: HealthScore, component: str, part: str) -> Reason | None:
    """One part of the current score as a Reason; delta is what it costs the total."""
    c = score.components.get(component)
    found = next((p for p in c.parts if p.name == part), None) if c else None
    if c is None or found is None:
        return None
    share = _part_shares(c).get(part, 0.0) * c.effective_weight
    cost = 0.0 if found.score is None else round((100.0 - found.score) * share, 1)
    return Reason(component, -cost, found.detail, found.evidence_event_ids[:MAX_EVIDENCE])


def top_reasons(score: HealthScore, limit: int = 5) -> list[Reason]:
    """The main drivers of the current score: first what each weak part costs the total (negative
    deltas, biggest first), then, if there is room, the strongest parts (positive deltas: their
    contribution to the total), so a healthy account is explained too."""
    shortfalls: list[Reason] = []
    strengths: list[Reason] = []
    for c in score.components.values():
        if c.score is None:
            continue
        shares = _part_shares(c)
        for p in c.parts:
            if p.score is None:
                continue
            share = shares[p.name] * c.effective_weight
            if (cost := round((100.0 - p.score) * share, 1)) >= 0.5:
                shortfalls.append(Reason(c.name, -cost, p.detail, p.evidence_event_ids[:MAX_EVIDENCE]))
            else:
                strengths.append(Reason(c.name, round(p.score * share, 1), p.detail,
                                        p.evidence_event_ids[:MAX_EVIDENCE]))
    if (young := _onboarding_reason(score, -score.onboarding_discount)) is not None:
        shortfalls.append(young)
    chosen = sorted(shortfalls, key=lambda r: r.delta) + sorted(strengths, key=lambda r: -r.delta)
    forced = _forced_reason(score, 0.0)
    first = ([forced] if forced else []) + _held_measures(score)
    return (first + chosen)[:max(limit, len(first))]


def explain_change(previous: HealthScore | None, current: HealthScore) -> list[Reason]:
    """Reasons for the change from `previous` to `current`, biggest first. Without a previous
    score, the current score's main drivers."""
    if previous is None:
        return top_reasons(current)
    reasons: list[Reason] = []
    smallest: Reason | None = None  # the largest of the moves too small to list, for a change made only of them
    for name in COMPONENTS:
        before, after = previous.components.get(name), current.components.get(name)
        if after is None:
            continue
        drift = _contribution(after) - _contribution(before)
        delta = round(drift, 1)
        if after.score is None:
            if before is not None and before.score is not None:
                reasons.append(Reason(name, delta, f"{name} no longer measured: {after.missing}"))
            continue
        moved = _moved_parts(before, after)
        if abs(delta) < MIN_DELTA and not moved:
            if drift and (smallest is None or abs(drift) > abs(smallest.delta)):
                parts = _drifted_parts(before, after)
                smallest = Reason(name, round(drift, 2), "; ".join(p.detail for p in parts), _evidence(parts))
            continue
        if not moved:  # weights shifted (another component appeared or vanished): name the weakest part
            moved = sorted((p for p in after.parts if p.score is not None), key=lambda p: p.score or 0.0)[:1]
        reasons.append(Reason(name, delta, "; ".join(p.detail for p in moved), _evidence(moved)))
    moved_prior = round(previous.onboarding_discount - current.onboarding_discount, 1)
    if abs(moved_prior) >= MIN_DELTA and (young := _onboarding_reason(current, moved_prior)) is not None:
        reasons.append(young)
    if not reasons and smallest is not None and previous.total != current.total:
        reasons.append(smallest)
    reasons.sort(key=lambda r: -abs(r.delta))
    if previous.scorecard_version != current.scorecard_version or previous.segment != current.segment:
        reasons.append(Reason("scorecard", 0.0,
                              f"scored with the {current.segment} scorecard version {current.scorecard_version} "
                              f"(was {previous.segment} version {previous.scorecard_version})"))
    if current.forced_by and current.forced_by != previous.forced_by:
        forced = _forced_reason(current, 0.0)
        if forced is not None:
            reasons.insert(0, forced)
    elif previous.forced_by and not current.forced_by:
        reasons.insert(0, Reason(CRITICAL_RULES[previous.forced_by].component, 0.0,
                                 f"critical measure {previous.forced_by} no longer holds"))
    return reasons


def _moved_parts(before: ComponentScore | None, after: ComponentScore) -> list[Part]:
    """Parts of `after` whose score moved by at least one point, largest weighted move first (two at
    most); a part that has data now and had none before counts as moved."""
    old = {p.name: p.score for p in before.parts} if before else {}
    moves = []
    for p in after.parts:
        if p.score is None:
            continue
        was = old.get(p.name)
        change = p.score - (was if was is not None else 100.0)
        if was is None or abs(change) >= 1.0:
            moves.append((abs(change), p))
    if not moves:  # most components at most points: nothing to weigh
        return []
    shares = _part_shares(after)
    return [p for _, p in sorted([(change * shares.get(p.name, 0.0), p) for change, p in moves],
                                 key=lambda m: -m[0])[:2]]


def _drifted_parts(before: ComponentScore | None, after: ComponentScore) -> list[Part]:
    """The part of `after` that moved most, however little (a small drift still has a cause)."""
    old = {p.name: p.score for p in before.parts} if before else {}
    moved = [(abs((p.score or 0.0) - (old.get(p.name) or 0.0)), p) for p in after.parts if p.score is not None]
    return [max(moved, key=lambda m: m[0])[1]] if moved else []
