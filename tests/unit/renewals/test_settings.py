"""The renewals settings that shape judging: reminder windows from the environment, validated."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.renewals.domain import JudgingRules
from services.renewals.settings import RenewalsSettings

pytestmark = pytest.mark.unit


def test_reminder_windows_default_and_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RenewalsSettings().judging_rules == JudgingRules(window_days=120, reminders=(120, 90, 60, 30))
    monkeypatch.setenv("ORCHARD_RENEWALS_REMINDER_DAYS", "[30, 60, 60, 14]")
    monkeypatch.setenv("ORCHARD_RENEWALS_WINDOW_DAYS", "90")
    assert RenewalsSettings().judging_rules == JudgingRules(window_days=90, reminders=(60, 30, 14))


@pytest.mark.parametrize("days", [[0], [731], [-30]])
def test_a_reminder_window_outside_1_to_730_days_is_refused(days: list[int]) -> None:
    with pytest.raises(ValidationError, match="reminder windows"):
        RenewalsSettings(renewals_reminder_days=days)
