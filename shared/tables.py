"""Table declarations in the words of the migrations that create them: ``declare(md, "renewals",
"renewal_id text primary key, account_id text, owner text null, ...")``.

One column per comma: a name, a type, then any of ``null`` (columns are NOT NULL unless they say so),
``primary key``, ``identity`` (a bigint the database numbers) and ``default <value>`` (``now()`` or a
quoted string). The services' stores declare their tables with it, so a table reads as its DDL and
every schema's columns are declared one way; ``tests/integration/test_migrations_match_declarations.py``
holds them to what the migrations built.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

_TYPES: dict[str, Any] = {
    "text": sa.Text, "int": sa.Integer, "bigint": sa.BigInteger, "float8": sa.Float, "numeric": sa.Numeric,
    "boolean": sa.Boolean, "date": sa.Date, "timestamptz": sa.DateTime(timezone=True), "jsonb": JSONB,
    "bytea": sa.LargeBinary,
}


def declare(metadata: sa.MetaData, name: str, columns: str) -> sa.Table:
    """The table `name` in `metadata` with `columns` (see the module docstring)."""
    return sa.Table(name, metadata, *(column(spec) for spec in columns.split(",") if spec.strip()))


def column(spec: str) -> sa.Column[Any]:
    """One column from its spec, ``"account_id text"`` or ``"id bigint identity primary key"``."""
    name, type_name, *rest = spec.split()
    if type_name not in _TYPES:
        raise ValueError(f"column {name}: unknown type {type_name!r} (known: {', '.join(_TYPES)})")
    words = " ".join(rest)
    default: Any = None
    if " default " in f" {words} ":
        words, _, value = f" {words} ".partition(" default ")
        value = value.strip()
        default = sa.func.now() if value == "now()" else value.strip("'")
    flags = words.split()
    unknown = set(flags) - {"null", "primary", "key", "identity"}
    if unknown:
        raise ValueError(f"column {name}: unknown words {sorted(unknown)}")
    extra = [sa.Identity()] if "identity" in flags else []
    return sa.Column(name, _TYPES[type_name], *extra, primary_key="primary" in flags, nullable="null" in flags,
                     server_default=default)
