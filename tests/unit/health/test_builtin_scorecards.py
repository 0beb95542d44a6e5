"""The built-in scorecards a fresh database gets (frozen in a migration) are the code's defaults: a
change to the defaults without a migration that publishes it would leave the service scoring with the
old ones while every pure test passes with the new."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from services.health.domain import DEFAULT_SCORECARDS, scorecard_to_json, validate_scorecard

pytestmark = pytest.mark.unit

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "health" / "migrations"


def _migration(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, MIGRATIONS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_latest_built_in_version_in_the_migrations_is_the_code_s_defaults() -> None:
    frozen = _migration("0005_scorecards_v3").BUILT_IN_V3
    assert set(frozen) == set(DEFAULT_SCORECARDS)
    for segment, card in DEFAULT_SCORECARDS.items():
        assert {**frozen[segment], "version": card.version} == scorecard_to_json(card), segment


def test_every_frozen_version_still_validates() -> None:
    for config in (*_migration("0001_health").BUILT_IN_V1.values(),
                   *_migration("0003_norms_and_scorecards_v2").BUILT_IN_V2.values(),
                   *_migration("0005_scorecards_v3").BUILT_IN_V3.values()):
        validate_scorecard(config)
