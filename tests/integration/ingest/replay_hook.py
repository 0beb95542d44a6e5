"""The replay hook of the counting service used as a downstream service in the replay tests."""

from __future__ import annotations

import sqlalchemy as sa

from tests.integration.plumbing_service import build


def replay_tables(schema: str) -> list[sa.Table]:
    return [build(schema, "unused").counts]
