"""Ingest's tables and queries. Ingest keeps no state of its own beyond the shared plumbing tables:
``processed_events`` is the record of every event id accepted (by HTTP or from the raw topic), so
an id accepted one way is a duplicate the other way; ``outbox`` carries the raw topic's events to
their canonical topics. Nothing here commits.
"""

from __future__ import annotations

import sqlalchemy as sa

from shared.db import PlumbingTables, plumbing_tables


def ingest_tables(schema: str) -> PlumbingTables:
    return plumbing_tables(sa.MetaData(schema=schema))
