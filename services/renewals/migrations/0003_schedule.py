"""The scheduled pass's bookkeeping: when each account is next due (per partition group) and how far
event time has got per partition group. Accounts stored before it are due at once, so the first
pass judges each of them as of now."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade(schema: str) -> None:
    op.create_table(
        "schedule",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("partition", sa.Integer),
        sa.Column("next_due", sa.Date),
        sa.Column("judged_at", TZ),
        schema=schema,
    )
    # The pass asks, per partition group, for the accounts due by a day, in account order.
    op.create_index("schedule_due", "schedule", ["partition", "next_due", "account_id"], schema=schema)
    op.create_table(
        "stream_watermarks",
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("event_at", TZ, nullable=False),
        schema=schema,
    )
    op.execute(f'INSERT INTO "{schema}".schedule (account_id, next_due) '
               f"SELECT account_id, DATE '1970-01-01' FROM \"{schema}\".accounts")


def downgrade(schema: str) -> None:
    op.drop_table("stream_watermarks", schema=schema)
    op.drop_table("schedule", schema=schema)
