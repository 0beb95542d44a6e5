"""An account-state table: one row per account holding the service's folded state as JSON.

Shape: ``account_id`` (primary key), ``state`` (JSONB), ``latest_at`` (the account's latest event
time), ``updated_at``. ``account_state_table`` declares it; the two functions below are the only
statements a batch needs against it, whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import json_text, qualified


class FoldedState(Protocol):
    """What a service folds per account: its latest event time is stored beside it."""

    @property
    def latest_at(self) -> datetime | None: ...


State = TypeVar("State", bound=FoldedState)


def account_state_table(metadata: sa.MetaData, name: str = "accounts") -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("state", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("latest_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


# The no-op DO UPDATE takes the row lock of an existing account and RETURNING hands back its state; a
# new account gets its (empty) row, locked too. Instances holding different partitions of one account
# (its usage and its contract events, say) thus take turns; sorted ids keep one lock order, so they
# never deadlock.
_LOCK_AND_LOAD = """
INSERT INTO {table} (account_id, state, updated_at)
SELECT a, '{{}}'::jsonb, now() FROM unnest(CAST(:ids AS text[])) AS a ORDER BY a
ON CONFLICT (account_id) DO UPDATE SET account_id = excluded.account_id
RETURNING account_id, state::text
"""

_SAVE = """
UPDATE {table} AS t SET state = u.s::jsonb, latest_at = u.l, updated_at = now()
FROM unnest(CAST(:ids AS text[]), CAST(:states AS text[]), CAST(:latest AS timestamptz[])) AS u(a, s, l)
WHERE t.account_id = u.a
"""


async def lock_and_load(
    session: AsyncSession, table: sa.Table, account_ids: Sequence[str], *, decode: Callable[[dict[str, Any]], State]
) -> dict[str, State]:
    """Lock the accounts' rows for this transaction and return their stored states, `decode`d from
    their JSON (``{}`` for a new account)."""
    rows = await session.execute(sa.text(_LOCK_AND_LOAD.format(table=qualified(table))),
                                 {"ids": sorted(set(account_ids))})
    return {account_id: decode(orjson.loads(state)) for account_id, state in rows}


async def save(
    session: AsyncSession, table: sa.Table, states: Mapping[str, State], *, encode: Callable[[State], Any]
) -> None:
    """Store each account's state (`encode`d as JSON-able data) and its latest event time in one statement."""
    if not states:
        return
    ids = sorted(states)
    await session.execute(
        sa.text(_SAVE.format(table=qualified(table))),
        {"ids": ids, "states": [json_text(encode(states[a])) for a in ids],
         "latest": [states[a].latest_at for a in ids]},
    )
