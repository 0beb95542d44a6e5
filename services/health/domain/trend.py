"""Score trend over 7, 30 and 90 days from the stored score history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from shared.days import require_aware

TREND_WINDOWS = {"7d": 7, "30d": 30, "90d": 90}


def trend(score_history: Sequence[tuple[datetime, float]], as_of: datetime) -> dict[str, float | None]:
    """Change of the score over each window: the latest score at or before `as_of` minus the latest
    score at or before `as_of - window`. None where history does not reach that far back (an
    account scored for a week has no 30-day trend, rather than a made-up zero)."""
    as_of = require_aware(as_of, "as_of")
    points = sorted((require_aware(t), v) for t, v in score_history if t <= as_of)
    if not points:
        return dict.fromkeys(TREND_WINDOWS)
    now = points[-1][1]
    result: dict[str, float | None] = {}
    for label, days in TREND_WINDOWS.items():
        cutoff = as_of - timedelta(days=days)
        older = [v for t, v in points if t <= cutoff]
        result[label] = round(now - older[-1], 1) if older else None
    return result
