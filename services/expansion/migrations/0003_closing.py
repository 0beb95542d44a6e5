"""Opportunities closed without a person and priced in a currency: `currency` of the uplift,
`progressed_at` (what expiry counts from: the opening, or a person's stage move), `closed_by`
(person, contract or expiry) and `close_reason`. Rows stored before it progressed at their opening
and are in the catalogue's default currency (USD)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade(schema: str) -> None:
    op.add_column("opportunities", sa.Column("currency", sa.Text, nullable=False, server_default="USD"),
                  schema=schema)
    op.add_column("opportunities", sa.Column("progressed_at", TZ), schema=schema)
    op.add_column("opportunities", sa.Column("closed_by", sa.Text), schema=schema)
    op.add_column("opportunities", sa.Column("close_reason", sa.Text), schema=schema)
    op.execute(f'UPDATE "{schema}".opportunities SET progressed_at = as_of')
    op.execute(f"UPDATE \"{schema}\".opportunities SET closed_by = 'person' WHERE closed_at IS NOT NULL")
    op.alter_column("opportunities", "progressed_at", nullable=False, schema=schema)
    op.create_check_constraint("opportunities_closed_by", "opportunities",
                               "closed_by IN ('person', 'contract', 'expiry')", schema=schema)


def downgrade(schema: str) -> None:
    op.drop_constraint("opportunities_closed_by", "opportunities", schema=schema)
    for column in ("close_reason", "closed_by", "progressed_at", "currency"):
        op.drop_column("opportunities", column, schema=schema)
