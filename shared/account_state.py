"""An account-state table: one row per account holding the service's folded state as JSON.

Shape: ``account_id`` (primary key), ``state`` (JSONB), ``latest_at`` (the account's latest event
time), ``updated_at``. ``account_state_table`` declares it; ``fold_schema`` declares it with the
plumbing tables as the ``FoldTables`` every account-fold service (renewals, expansion) extends with
its own; an ``AccountStates`` (the service's JSON codec) runs the only two statements a batch needs
against it, whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import PlumbingTables, json_text, plumbing_tables, qualified


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


@dataclass(frozen=True)
class FoldTables:
    """The tables of an account-fold service's schema that every such service has."""

    schema: str
    plumbing: PlumbingTables
    accounts: sa.Table


def fold_schema(schema: str) -> tuple[sa.MetaData, FoldTables]:
    """The metadata to declare the service's own tables on, and the tables every fold service has."""
    md = sa.MetaData(schema=schema)
    return md, FoldTables(schema, plumbing_tables(md), account_state_table(md))


@dataclass(frozen=True)
class AccountStates(Generic[State]):
    """A service's folded state in its account-state table, through the service's JSON codec."""

    decode: Callable[[dict[str, Any]], State]
    encode: Callable[[State], Any]

    async def lock_and_load(
        self, session: AsyncSession, tables: FoldTables, account_ids: Sequence[str]
    ) -> dict[str, State]:
        """Lock the accounts' rows for this transaction and return their stored states (``{}`` decoded
        for a new account)."""
        rows = await session.execute(sa.text(_LOCK_AND_LOAD.format(table=qualified(tables.accounts))),
                                     {"ids": sorted(set(account_ids))})
        return {account_id: self.decode(orjson.loads(state)) for account_id, state in rows}

    async def save(self, session: AsyncSession, tables: FoldTables, states: Mapping[str, State]) -> None:
        """Store each account's state and its latest event time in one statement."""
        if not states:
            return
        ids = sorted(states)
        await session.execute(
            sa.text(_SAVE.format(table=qualified(tables.accounts))),
            {"ids": ids, "states": [json_text(self.encode(states[a])) for a in ids],
             "latest": [states[a].latest_at for a in ids]},
        )
