"""Each service's migrations, run from an empty schema, end at exactly the tables its ``store.py``
declares: alembic's autogenerate finds nothing to do. Migrations state their tables literally
(``shared.migrations``), so this is what catches a declaration changed without a migration, or a
migration that no longer matches the code.

Known noise, ignored on purpose:

- Indexes the database has and the declarations do not (``remove_index``): ``store.py`` declares
  no indexes (they serve queries written as SQL text, and the migrations own them). An index a
  declaration does state is still compared (``add_index`` when the database lacks it).
- Server defaults the declarations leave out (a ``modify_default`` whose declared default is
  None): the declarations state only some defaults and the migrations own the rest. A default a
  declaration does state is compared with the database's.
- Check constraints are not compared by alembic at all; the declarations do not state them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from services.expansion.store import expansion_tables
from services.health.store import health_tables
from services.ingest.store import ingest_tables
from services.renewals.store import renewals_tables
from shared.migrations import upgrade_to_head
from tests.infra import REPO

pytestmark = pytest.mark.integration

DECLARATIONS: dict[str, Callable[[str], sa.MetaData]] = {
    "ingest": lambda schema: ingest_tables(schema).outbox.metadata,
    "health": lambda schema: health_tables(schema).accounts.metadata,
    "renewals": lambda schema: renewals_tables(schema).accounts.metadata,
    "expansion": lambda schema: expansion_tables(schema).accounts.metadata,
}


def _flatten(diffs: list[Any]) -> list[tuple[Any, ...]]:
    """compare_metadata nests column modifications in lists; one tuple per difference."""
    flat: list[tuple[Any, ...]] = []
    for diff in diffs:
        flat.extend(diff if isinstance(diff, list) else [diff])
    return flat


def _is_noise(diff: tuple[Any, ...]) -> bool:
    """The differences the module docstring lists as known noise."""
    if diff[0] == "remove_index":
        return True
    # ("modify_default", schema, table, column, info, db default, declared default)
    return diff[0] == "modify_default" and diff[6] is None


def _schema_diff(sync_conn: sa.Connection, schema: str, declared: sa.MetaData) -> list[tuple[Any, ...]]:
    def only_this_schema(name: str | None, type_: str, parent_names: Any) -> bool:
        return type_ != "schema" or name == schema

    context = MigrationContext.configure(sync_conn, opts={
        "include_schemas": True,
        "include_name": only_this_schema,
        "version_table_schema": schema,  # alembic's own version table is not a difference
        "compare_type": True,
        "compare_server_default": True,
    })
    return [d for d in _flatten(compare_metadata(context, declared)) if not _is_noise(d)]


async def migrated_schema_diff(
    engine: AsyncEngine, service: str, schema: str, declared: sa.MetaData
) -> list[tuple[Any, ...]]:
    """Migrate an empty schema to head (as a service does on start) and diff it with `declared`."""
    await upgrade_to_head(engine, schema=schema, versions_dir=REPO / "services" / service / "migrations")
    async with engine.connect() as conn:
        return await conn.run_sync(_schema_diff, schema, declared)


@pytest.mark.parametrize("service", sorted(DECLARATIONS))
async def test_migrations_from_empty_end_at_the_declared_tables(engine: AsyncEngine, schema: str, service: str) -> None:
    declared = DECLARATIONS[service](schema)
    assert declared.tables, "the declarations name some tables, so an empty diff means something"
    assert await migrated_schema_diff(engine, service, schema, declared) == []


async def test_a_declaration_changed_without_a_migration_is_a_difference(engine: AsyncEngine, schema: str) -> None:
    """The comparison can fail: a column declared but never migrated shows up, as does a type change."""
    declared = ingest_tables(schema).outbox.metadata
    outbox = declared.tables[f"{schema}.outbox"]
    outbox.append_column(sa.Column("attempts", sa.Integer))
    outbox.c.key.type = sa.Integer()
    diffs = await migrated_schema_diff(engine, "ingest", schema, declared)
    assert sorted((d[0], d[3] if isinstance(d[3], str) else d[3].name) for d in diffs) == [
        ("add_column", "attempts"), ("modify_type", "key")]


async def test_expansion_keeps_its_cohort_norms_and_watermarks(engine: AsyncEngine, schema: str) -> None:
    """The tables the norms refresh reads and writes are declared and migrated (0004), so the comparison
    above covers them."""
    declared = expansion_tables(schema).accounts.metadata
    assert {f"{schema}.cohort_norms", f"{schema}.stream_watermarks"} <= set(declared.tables)
    assert await migrated_schema_diff(engine, "expansion", schema, declared) == []
