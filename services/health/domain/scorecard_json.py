"""A scorecard's JSON form (`scorecard_to_json`) and its one way in from untrusted JSON
(`validate_scorecard`), which reports every problem at once with its field path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from services.health.domain.calibration import calibration_to_json, parse_calibration
from services.health.domain.scorecard import (
    ALERT_KINDS,
    COMPONENTS,
    CRITICAL_RULES,
    MISSING_DATA_POLICIES,
    AlertRules,
    CriticalMeasure,
    GradeThresholds,
    Scorecard,
    Targets,
)

# --- JSON out -----------------------------------------------------------------------------------

# (json section, json key) -> (attribute, integer?, minimum, exclusive minimum?, maximum)
_ALERT_FIELDS: Mapping[tuple[str, str], tuple[str, bool, float, bool, float | None]] = {
    ("grade_red", "sustain_days"): ("grade_red_sustain_days", True, 0, False, 90),
    ("score_drop", "sustain_days"): ("score_drop_sustain_days", True, 0, False, 90),
    ("usage_decline", "sustain_days"): ("usage_decline_sustain_days", True, 0, False, 90),
    ("champion_left", "sustain_days"): ("champion_left_sustain_days", True, 0, False, 90),
    ("score_drop", "points"): ("score_drop_points", False, 0, True, 100),
    ("score_drop", "within_days"): ("score_drop_days", True, 1, False, 365),
    ("score_drop", "step"): ("score_drop_step", False, 0, True, 100),
    ("usage_decline", "pct"): ("usage_decline_pct", False, 0, True, 100),
    ("usage_decline", "volume_pct"): ("usage_decline_volume_pct", False, 0, True, 100),
    ("usage_decline", "max_usage_score"): ("usage_decline_max_usage_score", False, 0, True, 100),
    ("usage_decline", "step"): ("usage_decline_step", False, 0, True, 100),
    ("negative_feedback", "count"): ("negative_feedback_count", True, 1, False, None),
    ("negative_feedback", "within_days"): ("negative_feedback_days", True, 1, False, 365),
}


def _alerts_json(rules: AlertRules) -> dict[str, Any]:
    out: dict[str, Any] = {"cooldown_days": rules.cooldown_days,
                           "renewal_critical_days": rules.renewal_critical_days,
                           "budget": rules.budget, "budget_days": rules.budget_days}
    for kind in ALERT_KINDS:
        out[kind] = {"enabled": kind in rules.enabled}
    for (kind, key), (attr, *_) in _ALERT_FIELDS.items():
        out[kind][key] = getattr(rules, attr)
    return out


def scorecard_to_json(card: Scorecard) -> dict[str, Any]:
    t = card.thresholds
    return {
        "segment": card.segment,
        "version": card.version,
        "weights": {c: card.weights.get(c, 0.0) for c in COMPONENTS},
        "thresholds": {"green_enter": t.green_enter, "green_exit": t.green_exit,
                       "red_enter": t.red_enter, "red_exit": t.red_exit},
        "missing_data": card.missing_data,
        "neutral_score": card.neutral_score,
        "targets": {"touches_per_30d": card.targets.touches_per_30d,
                    "engaged_contacts": card.targets.engaged_contacts,
                    "qbr_every_days": card.targets.qbr_every_days},
        "critical_measures": [
            {"component": m.component, "rule": m.rule, "threshold": m.threshold, "force_grade": m.force_grade}
            for m in card.critical_measures
        ],
        "alerts": _alerts_json(card.alerts),
        **({"calibration": calibration_to_json(card.calibration)} if card.calibration is not None else {}),
    }


# --- JSON in ------------------------------------------------------------------------------------


class ScorecardInvalid(ValueError):
    """A scorecard that cannot be used; `problems` lists each one as "field.path: what is wrong"."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid scorecard: " + "; ".join(problems))
        self.problems = problems


class _Check:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def section(self, raw: Mapping[str, Any], key: str, allowed: tuple[str, ...],
                required: bool = False) -> Mapping[str, Any] | None:
        value = raw.get(key)
        if value is None:
            if required:
                self.fail(key, "required")
            return None
        if not isinstance(value, Mapping):
            self.fail(key, "must be an object")
            return None
        for unknown in sorted(set(value) - set(allowed)):
            self.fail(f"{key}.{unknown}", f"unknown field; expected one of {', '.join(allowed)}")
        return value

    def number(self, raw: Any, path: str, *, integer: bool = False, minimum: float | None = None,
               exclusive_min: bool = False, maximum: float | None = None) -> float | None:
        kind = "an integer" if integer else "a number"
        wrong_type = not isinstance(raw, int | float) or (integer and not isinstance(raw, int))
        if isinstance(raw, bool) or wrong_type:
            self.fail(path, f"must be {kind}, got {raw!r}")
            return None
        if not math.isfinite(raw):
            self.fail(path, f"must be finite, got {raw!r}")
            return None
        if minimum is not None and (raw <= minimum if exclusive_min else raw < minimum):
            self.fail(path, f"must be {'>' if exclusive_min else '>='} {minimum:g}, got {raw!r}")
            return None
        if maximum is not None and raw > maximum:
            self.fail(path, f"must be <= {maximum:g}, got {raw!r}")
            return None
        number: float = raw  # an int stays an int, for the integer fields
        return number

    def choice(self, raw: Any, path: str, options: tuple[str, ...]) -> str | None:
        if raw not in options:
            self.fail(path, f"must be one of {', '.join(options)}, got {raw!r}")
            return None
        return str(raw)


_TOP_LEVEL = ("segment", "version", "weights", "thresholds", "missing_data", "neutral_score", "targets",
              "critical_measures", "alerts", "calibration")
_THRESHOLD_KEYS = ("green_enter", "green_exit", "red_enter", "red_exit")


def _weights(check: _Check, raw: Mapping[str, Any]) -> dict[str, float]:
    section = check.section(raw, "weights", COMPONENTS, required=True)
    if section is None:
        return {}
    weights = {c: check.number(section[c], f"weights.{c}", minimum=0) for c in COMPONENTS if c in section}
    valid = {c: float(w) for c, w in weights.items() if w is not None}
    if len(valid) == len(weights) and sum(valid.values()) <= 0:
        check.fail("weights", "at least one weight must be greater than 0")
    return valid


def _thresholds(check: _Check, raw: Mapping[str, Any]) -> GradeThresholds:
    section = check.section(raw, "thresholds", _THRESHOLD_KEYS, required=True)
    if section is None:
        return GradeThresholds()
    values: dict[str, float] = {}
    for key in _THRESHOLD_KEYS:
        if key not in section:
            check.fail(f"thresholds.{key}", "required")
        elif (value := check.number(section[key], f"thresholds.{key}", minimum=0, maximum=100)) is not None:
            values[key] = float(value)
    if len(values) == len(_THRESHOLD_KEYS):
        ordered = (("red_enter", "red_exit"), ("red_exit", "green_exit"), ("green_exit", "green_enter"))
        for low, high in ordered:
            if values[low] > values[high]:
                check.fail("thresholds", f"{high} ({values[high]:g}) must be >= {low} ({values[low]:g})")
        if values["red_enter"] >= values["green_enter"]:
            check.fail("thresholds", f"green_enter ({values['green_enter']:g}) must be above red_enter "
                                     f"({values['red_enter']:g})")
        return GradeThresholds(**values)
    return GradeThresholds()


def _targets(check: _Check, raw: Mapping[str, Any]) -> Targets:
    section = check.section(raw, "targets", ("touches_per_30d", "engaged_contacts", "qbr_every_days"))
    if section is None:
        return Targets()
    default = Targets()
    touches = check.number(section.get("touches_per_30d", default.touches_per_30d), "targets.touches_per_30d",
                           minimum=0, exclusive_min=True)
    contacts = check.number(section.get("engaged_contacts", default.engaged_contacts),
                            "targets.engaged_contacts", integer=True, minimum=1)
    qbr_raw = section.get("qbr_every_days", default.qbr_every_days)
    qbr = None if qbr_raw is None else check.number(qbr_raw, "targets.qbr_every_days",
                                                    integer=True, minimum=1)
    return Targets(touches_per_30d=float(touches or default.touches_per_30d),
                   engaged_contacts=int(contacts or default.engaged_contacts),
                   qbr_every_days=None if qbr is None else int(qbr))


def _critical_measures(check: _Check, raw: Mapping[str, Any]) -> tuple[CriticalMeasure, ...]:
    items = raw.get("critical_measures", [])
    if not isinstance(items, list):
        check.fail("critical_measures", "must be a list")
        return ()
    measures = []
    for i, item in enumerate(items):
        path = f"critical_measures[{i}]"
        if not isinstance(item, Mapping):
            check.fail(path, "must be an object")
            continue
        for unknown in sorted(set(item) - {"component", "rule", "threshold", "force_grade"}):
            check.fail(f"{path}.{unknown}", "unknown field")
        component = check.choice(item.get("component"), f"{path}.component", COMPONENTS)
        rule = check.choice(item.get("rule"), f"{path}.rule", tuple(CRITICAL_RULES))
        threshold = check.number(item.get("threshold"), f"{path}.threshold", minimum=0)
        grade = check.choice(item.get("force_grade"), f"{path}.force_grade", ("yellow", "red"))
        if rule and component and CRITICAL_RULES[rule].component != component:
            check.fail(f"{path}.component", f"rule {rule} belongs to {CRITICAL_RULES[rule].component}, "
                                            f"not {component}")
        elif rule and component and threshold is not None and grade:
            measures.append(CriticalMeasure(component, rule, float(threshold), grade))
    return tuple(measures)


def _alert_rules(check: _Check, raw: Mapping[str, Any]) -> AlertRules:
    section = check.section(raw, "alerts", ("cooldown_days", "renewal_critical_days", "budget", "budget_days",
                                            *ALERT_KINDS))
    if section is None:
        return AlertRules()
    default = AlertRules()
    values: dict[str, Any] = {}
    for key, lowest in (("cooldown_days", 1), ("renewal_critical_days", 0), ("budget", 0), ("budget_days", 1)):
        if key in section and (n := check.number(section[key], f"alerts.{key}", integer=True,
                                                 minimum=lowest, maximum=365)) is not None:
            values[key] = int(n)
    enabled = set(default.enabled)
    for kind in ALERT_KINDS:
        rule = section.get(kind)
        if rule is None:
            continue
        if not isinstance(rule, Mapping):
            check.fail(f"alerts.{kind}", "must be an object")
            continue
        keys = ("enabled", *(k for (sec, k) in _ALERT_FIELDS if sec == kind))
        for unknown in sorted(set(rule) - set(keys)):
            check.fail(f"alerts.{kind}.{unknown}", f"unknown field; expected one of {', '.join(keys)}")
        flag = rule.get("enabled", kind in default.enabled)
        if not isinstance(flag, bool):
            check.fail(f"alerts.{kind}.enabled", f"must be true or false, got {flag!r}")
        elif flag:
            enabled.add(kind)
        else:
            enabled.discard(kind)
        for key in keys[1:]:
            if key not in rule:
                continue
            attr, integer, minimum, exclusive, maximum = _ALERT_FIELDS[(kind, key)]
            value = check.number(rule[key], f"alerts.{kind}.{key}", integer=integer, minimum=minimum,
                                 exclusive_min=exclusive, maximum=maximum)
            if value is not None:
                values[attr] = int(value) if integer else float(value)
    return AlertRules(enabled=frozenset(enabled), **values)


def validate_scorecard(raw: Mapping[str, Any]) -> Scorecard:
    """A Scorecard from untrusted JSON, or ScorecardInvalid listing every problem found."""
    if not isinstance(raw, Mapping):
        raise ScorecardInvalid(["scorecard: must be an object"])
    check = _Check()
    for unknown in sorted(set(raw) - set(_TOP_LEVEL)):
        check.fail(unknown, f"unknown field; expected one of {', '.join(_TOP_LEVEL)}")
    segment = raw.get("segment")
    if not isinstance(segment, str) or not segment.strip():
        check.fail("segment", f"must be a non-empty string, got {segment!r}")
    version_number = check.number(raw.get("version", 1), "version", integer=True, minimum=1)
    weights = _weights(check, raw)
    thresholds = _thresholds(check, raw)
    missing = check.choice(raw.get("missing_data", "exclude"), "missing_data", MISSING_DATA_POLICIES)
    neutral = check.number(raw.get("neutral_score", 50.0), "neutral_score", minimum=0, maximum=100)
    targets = _targets(check, raw)
    measures = _critical_measures(check, raw)
    alerts = _alert_rules(check, raw)
    calibration, calibration_problems = parse_calibration(raw.get("calibration"), alert_kinds=ALERT_KINDS)
    for problem in calibration_problems:
        path, _, message = problem.partition(": ")
        check.fail(path, message)
    if check.problems:
        raise ScorecardInvalid(check.problems)
    return Scorecard(
        segment=str(segment),
        version=int(version_number or 1),
        weights=weights,
        thresholds=thresholds,
        missing_data=str(missing),
        neutral_score=float(neutral if neutral is not None else 50.0),
        targets=targets,
        critical_measures=measures,
        alerts=alerts,
        calibration=calibration,
    )
