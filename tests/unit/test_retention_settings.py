"""Which window each service remembers processed event ids for, and the rule between them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from services.expansion.settings import ExpansionSettings
from services.health.settings import HealthSettings
from services.ingest.settings import IngestSettings
from services.renewals.settings import RenewalsSettings
from shared.settings import OrchardSettings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("downstream", [HealthSettings, RenewalsSettings, ExpansionSettings])
def test_downstream_services_remember_longer_than_ingest_by_the_margin(downstream: type[OrchardSettings]) -> None:
    ingest, settings = IngestSettings(), downstream()
    assert ingest.processed_events_retention == timedelta(days=30)
    assert settings.processed_events_retention == timedelta(days=37)
    margin = timedelta(days=settings.processed_events_margin_days)
    assert settings.processed_events_retention >= ingest.processed_events_retention + margin


def test_ingest_forgets_after_its_dedupe_window() -> None:
    assert IngestSettings(ingest_dedupe_retention_days=3).processed_events_retention == timedelta(days=3)


@pytest.mark.parametrize(("ingest_days", "downstream_days", "margin_days"), [(30, 30, 7), (30, 36.9, 7), (40, 37, 7),
                                                                            (30, 32, 3)])
def test_a_downstream_window_not_longer_than_ingest_by_the_margin_is_refused(
    ingest_days: float, downstream_days: float, margin_days: float
) -> None:
    with pytest.raises(ValidationError, match="must be at least"):
        HealthSettings(ingest_dedupe_retention_days=ingest_days, processed_events_retention_days=downstream_days,
                       processed_events_margin_days=margin_days)


def test_the_margin_cannot_be_configured_away() -> None:
    with pytest.raises(ValidationError, match="processed_events_margin_days"):
        OrchardSettings(processed_events_margin_days=0)


def test_a_longer_window_with_a_shorter_ingest_window_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHARD_INGEST_DEDUPE_RETENTION_DAYS", "3")
    monkeypatch.setenv("ORCHARD_PROCESSED_EVENTS_RETENTION_DAYS", "10")
    settings = RenewalsSettings()
    assert settings.processed_events_retention == timedelta(days=10)
    assert IngestSettings().processed_events_retention == timedelta(days=3)
