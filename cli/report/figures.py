"""The report's numbers, from the services' answers: plain data in, plain data out (no I/O, no
clock; the report's moment is a parameter)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

GRADES = ("green", "yellow", "red")
RISK_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
AT_RISK_BANDS = ("critical", "high", "medium")
OPEN_STAGES = ("open", "qualified", "proposed")
STAGES = (*OPEN_STAGES, "won", "lost", "dismissed")

Json = dict[str, Any]


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, as the services answered it."""

    generated_at: datetime
    accounts: list[Json] = field(default_factory=list)
    histories: dict[str, list[Json]] = field(default_factory=dict)
    at_risk: list[Json] = field(default_factory=list)
    renewals: list[Json] = field(default_factory=list)
    forecasts: list[Json] = field(default_factory=list)
    retention: list[Json] = field(default_factory=list)
    opportunities: list[Json] = field(default_factory=list)
    weighted_pipeline: Json | None = None
    """Expansion's ``GET /v1/pipeline``: the open opportunities weighted by stage, per currency."""
    backtest: Json | None = None
    backtest_path: str | None = None
    problems: dict[str, str] = field(default_factory=dict)


def amount(value: Any) -> Decimal:
    """Money as the services send it (a decimal string); anything else counts as nothing."""
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def parse_time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def grade_counts(accounts: Iterable[Json]) -> dict[str, int]:
    counts = dict.fromkeys(GRADES, 0)
    for account in accounts:
        if account.get("grade") in counts:
            counts[account["grade"]] += 1
    return counts


def report_days(now: datetime, days: int) -> list[date]:
    """The last `days` calendar days (UTC) up to and including today."""
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]


def grade_on(entries: Sequence[Json], current: str | None, day: date) -> str | None:
    """An account's grade at the end of `day`, from its score history within the report's window
    (`entries`, oldest first). Before the first change in the window the grade is that change's
    previous grade (None: not scored yet); an account with no change in the window kept `current`."""
    if not entries:
        return current
    end = datetime.combine(day, time.max, tzinfo=UTC)
    grade = entries[0].get("previous_grade")
    for entry in entries:
        if parse_time(entry["as_of"]) > end:
            break
        grade = entry["grade"]
    return grade if isinstance(grade, str) else None


def grade_trend(accounts: Iterable[Json], histories: Mapping[str, Sequence[Json]],
                days: Sequence[date]) -> dict[str, list[int]]:
    """How many accounts held each grade at the end of each day."""
    trend = {grade: [0] * len(days) for grade in GRADES}
    for account in accounts:
        entries = sorted(histories.get(account["account_id"], []), key=lambda e: parse_time(e["as_of"]))
        for n, day in enumerate(days):
            grade = grade_on(entries, account.get("grade"), day)
            if grade in trend:
                trend[grade][n] += 1
    return trend


def score_series(entries: Iterable[Json], current: Json) -> tuple[list[str], list[float]]:
    """An account's score over time (oldest first), ending at its current score."""
    points = sorted(((parse_time(e["as_of"]), float(e["score"])) for e in entries), key=lambda p: p[0])
    now = (parse_time(current["as_of"]), float(current["score"]))
    if not points or points[-1][0] < now[0]:
        points.append(now)
    return [at.isoformat() for at, _ in points], [round(value, 1) for _, value in points]


def at_risk_accounts(accounts: Iterable[Json], *, limit: int) -> list[Json]:
    """Red, then yellow accounts, lowest score first (the effective grade: what people see)."""
    risky = [a for a in accounts if (a.get("effective_grade") or a.get("grade")) in ("red", "yellow")]
    risky.sort(key=lambda a: ((a.get("effective_grade") or a.get("grade")) != "red", a.get("score", 0.0)))
    return risky[:limit]


def renewals_at_risk(renewals: Iterable[Json]) -> list[Json]:
    """Pending renewals whose risk is medium or worse, riskiest then soonest first."""
    rows = [r for r in renewals if r.get("risk") in AT_RISK_BANDS and r.get("stage") not in ("renewed", "churned")]
    return sorted(rows, key=lambda r: (RISK_ORDER.get(r["risk"], 9), r.get("days_to_renewal", 0)))


def arr_by_currency(rows: Iterable[Json], field_name: str = "arr") -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for row in rows:
        currency = str(row.get("currency") or "?")
        totals[currency] = totals.get(currency, Decimal(0)) + amount(row.get(field_name))
    return totals


@dataclass(frozen=True)
class Pipeline:
    kinds: list[str]
    stages: list[str]
    uplift: dict[str, list[float]]  # kind -> uplift per stage
    counts: dict[str, list[int]]
    open_uplift: Decimal
    open_count: int


def pipeline(opportunities: Iterable[Json]) -> Pipeline:
    rows = list(opportunities)
    kinds = sorted({str(o.get("kind")) for o in rows})
    stages = [s for s in STAGES if any(o.get("stage") == s for o in rows)]
    uplift = {k: [0.0] * len(stages) for k in kinds}
    counts = {k: [0] * len(stages) for k in kinds}
    for o in rows:
        if o.get("stage") in stages:
            n = stages.index(o["stage"])
            uplift[str(o.get("kind"))][n] += float(amount(o.get("estimated_arr_uplift")))
            counts[str(o.get("kind"))][n] += 1
    open_rows = [o for o in rows if o.get("stage") in OPEN_STAGES]
    return Pipeline(kinds=kinds, stages=stages, uplift=uplift, counts=counts,
                    open_uplift=sum((amount(o.get("estimated_arr_uplift")) for o in open_rows), Decimal(0)),
                    open_count=len(open_rows))


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarter_label(year: int, quarter: int) -> str:
    return f"{year}-Q{quarter}"


def shift_quarter(year: int, quarter: int, by: int) -> tuple[int, int]:
    index = year * 4 + (quarter - 1) + by
    return index // 4, index % 4 + 1


def forecast_periods(now: datetime) -> list[str]:
    """This quarter and the next: the renewals a forecast is about."""
    year, quarter = quarter_of(now.date())
    return [quarter_label(*shift_quarter(year, quarter, by)) for by in (0, 1)]


def retention_periods(now: datetime, count: int = 4) -> list[str]:
    """The last `count` completed quarters, oldest first (a quarter in progress has no ending ARR yet)."""
    year, quarter = quarter_of(now.date())
    return [quarter_label(*shift_quarter(year, quarter, -by)) for by in range(count, 0, -1)]


SIGNAL_COLUMNS = ("data_set", "accounts", "churn_rate", "auc_score", "auc_baseline", "auc_events_30d",
                  "alert_precision", "recall_30d", "median_lead_days", "alerts_per_account_quarter")


def signal_rows(backtest: Json) -> list[Json]:
    """One row per data set, from either the benchmark summary (``bench/results/signal_quality.json``:
    ``data_sets``) or one backtest's own report (``backtest.json``: ``ranking`` and ``alerts``)."""
    if isinstance(backtest.get("data_sets"), list):
        return [{c: row.get(c) for c in SIGNAL_COLUMNS} for row in backtest["data_sets"] if isinstance(row, dict)]
    ranking, alerts = backtest.get("ranking"), backtest.get("alerts")
    if not isinstance(ranking, dict) or not isinstance(alerts, dict):
        return []
    auc = ranking.get("auc") or {}
    return [{
        "data_set": (backtest.get("dataset") or {}).get("name", "backtest"),
        "accounts": ranking.get("accounts"), "churn_rate": ranking.get("churn_rate"),
        "auc_score": auc.get("score"), "auc_baseline": auc.get("baseline"), "auc_events_30d": auc.get("events_30d"),
        "alert_precision": (alerts.get("precision") or {}).get("precision"),
        "recall_30d": (alerts.get("recall") or {}).get("recall"),
        "median_lead_days": (alerts.get("lead_days") or {}).get("median"),
        "alerts_per_account_quarter": alerts.get("per_account_quarter"),
    }]
