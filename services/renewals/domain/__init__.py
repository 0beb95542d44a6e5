"""The renewals domain: pure functions over frozen data; time is always a parameter."""

from services.renewals.domain.alerts import AlertDecision, AlertState, decide_alert
from services.renewals.domain.book import (
    AccountBook,
    apply_contract_events,
    apply_health,
    book_from_json,
    book_to_json,
    with_alerts,
)
from services.renewals.domain.contracts import ArrSpan, Contract, ContractEvent, Term, arr_spans, fold_contract
from services.renewals.domain.forecast import (
    PROBABILITY_BY_RISK,
    PROBABILITY_BY_STAGE,
    CurrencyForecast,
    DueRenewal,
    forecast,
)
from services.renewals.domain.periods import Period, parse_period
from services.renewals.domain.renewals import (
    CLOSED_STAGES,
    DEFAULT_WINDOW_DAYS,
    STORED_STAGES,
    Renewal,
    Stage,
    can_move,
    in_window,
    renewal_id,
    renewals_of,
    shown_stage,
    window_opens_on,
)
from services.renewals.domain.retention import DEFINITIONS as RETENTION_DEFINITIONS
from services.renewals.domain.retention import AccountSpan, CurrencyRetention, Retention, retention
from services.renewals.domain.risk import RISK_BANDS, Health, Risk, RiskBand, RiskReason, assess_risk

__all__ = [
    "CLOSED_STAGES",
    "DEFAULT_WINDOW_DAYS",
    "PROBABILITY_BY_RISK",
    "PROBABILITY_BY_STAGE",
    "RETENTION_DEFINITIONS",
    "RISK_BANDS",
    "STORED_STAGES",
    "AccountBook",
    "AccountSpan",
    "AlertDecision",
    "AlertState",
    "ArrSpan",
    "Contract",
    "ContractEvent",
    "CurrencyForecast",
    "CurrencyRetention",
    "DueRenewal",
    "Health",
    "Period",
    "Renewal",
    "Retention",
    "Risk",
    "RiskBand",
    "RiskReason",
    "Stage",
    "Term",
    "apply_contract_events",
    "apply_health",
    "arr_spans",
    "assess_risk",
    "book_from_json",
    "book_to_json",
    "can_move",
    "decide_alert",
    "fold_contract",
    "forecast",
    "in_window",
    "parse_period",
    "renewal_id",
    "renewals_of",
    "retention",
    "shown_stage",
    "window_opens_on",
    "with_alerts",
]
