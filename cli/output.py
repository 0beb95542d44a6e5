"""Where output goes: data on stdout (a Rich table for people, JSON with ``--json`` for scripts),
progress, notes and errors on stderr so that a pipe only ever sees the data."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)

GRADE_STYLE = {"green": "green", "yellow": "yellow", "red": "bold red"}
SEVERITY_STYLE = {"low": "cyan", "medium": "yellow", "high": "red", "critical": "bold white on red"}


def print_json(value: Any) -> None:
    """One JSON document on stdout (indented; keys in the services' order)."""
    sys.stdout.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_json_line(value: Any) -> None:
    """One JSON value per line, for streams (``alerts tail --json``)."""
    sys.stdout.write(json.dumps(value, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], *,
                empty: str | None = None) -> None:
    """A titled table of Rich-markup cells (escaped by the caller); `empty` is said when there is no
    row (nothing at all when it is None)."""
    rows = list(rows)
    if not rows:
        if empty is not None:
            out.print(empty)
        return
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    out.print(table)


def note(text: str) -> None:
    err.print(f"[dim]{escape(text)}[/dim]")


def graded(grade: str | None) -> str:
    """A grade as Rich markup, coloured; text from a service is always escaped."""
    if grade is None:
        return "-"
    return f"[{GRADE_STYLE.get(grade, 'white')}]{escape(grade)}[/]"


def severity(level: str | None) -> str:
    if level is None:
        return "-"
    return f"[{SEVERITY_STYLE.get(level, 'white')}]{escape(level)}[/]"


def money(amount: str | float | int | None, currency: str | None = None) -> str:
    if amount is None:
        return "-"
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return escape(str(amount))
    return f"{value:,.0f}" + (f" {escape(currency)}" if currency else "")


def score(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def text(value: Any) -> str:
    return "-" if value is None else escape(str(value))
