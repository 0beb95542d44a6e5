"""``orchard accounts list`` and ``orchard accounts show ID``: the health API's list, and one
account's whole picture from health, renewals and expansion."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from rich.panel import Panel
from rich.table import Table

from cli.api import Api
from cli.errors import CliError
from cli.output import graded, money, out, print_table, score, severity, text


async def list_accounts(api: Api, *, limit: int, **filters: Any) -> list[dict[str, Any]]:
    return await api.items("health", "/v1/accounts", limit=limit, **filters)


def print_accounts(accounts: list[dict[str, Any]]) -> None:
    table = Table(title=f"{len(accounts)} accounts", title_justify="left")
    for column, justify in (("account", "left"), ("segment", "left"), ("score", "right"), ("grade", "left"),
                            ("effective", "left"), ("ARR", "right"), ("renewal", "left"), ("as of", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for a in accounts:
        table.add_row(text(a["account_id"]), text(a.get("segment")), score(a.get("score")), graded(a.get("grade")),
                      graded(a.get("effective_grade")), money(a.get("arr"), a.get("currency")),
                      text(a.get("renewal_date")), text(str(a.get("as_of", ""))[:16]))
    out.print(table)


async def account_picture(api: Api, account_id: str) -> dict[str, Any]:
    """Health with its reasons, the latest page of the timeline, the pending renewals and the
    opportunities: each service asked once, at the same time."""
    path = quote(account_id, safe="")
    health, timeline, renewal, opportunities = await asyncio.gather(
        api.get_or_none("health", f"/v1/accounts/{path}/health"),
        api.get_or_none("health", f"/v1/accounts/{path}/timeline", limit=50),
        api.get_or_none("renewals", f"/v1/accounts/{path}/renewal"),
        api.items("expansion", f"/v1/accounts/{path}/opportunities", limit=100),
    )
    if health is None:
        raise CliError(f"health knows no account {account_id!r}",
                       hint="`orchard accounts list` shows the accounts health has scored.")
    return {
        "account_id": account_id,
        "health": health,
        "timeline": [] if timeline is None else timeline["items"],
        "renewals": [] if renewal is None else renewal["renewals"],
        "opportunities": opportunities,
    }


def print_picture(picture: dict[str, Any]) -> None:
    h = picture["health"]
    trend = ", ".join(f"{span} {'-' if d is None else f'{d:+.1f}'}" for span, d in (h.get("trend") or {}).items())
    effective = h.get("effective") or {}
    header = (f"score [bold]{score(h['score'])}[/]  grade {graded(h['grade'])}"
              + (f"  (shown as {graded(effective.get('grade'))}: overridden)" if effective.get("overridden") else "")
              + f"\nsegment {text(h.get('segment'))}  ARR {money(h.get('arr'), h.get('currency'))}  "
              f"renewal {text(h.get('renewal_date'))}"
              + (f" (in {h['days_to_renewal']} days)" if h.get("days_to_renewal") is not None else "")
              + f"\ntrend {trend or '-'}  as of {text(h.get('as_of'))}")
    if h.get("forced_by"):
        header += f"\n[red]grade forced by {text(h['forced_by'])}[/]: {text(h.get('forced_detail'))}"
    out.print(Panel(header, title=f"account {text(picture['account_id'])}", title_align="left", expand=False))
    _components(h)
    _reasons(h.get("reasons") or [])
    _alerts(h.get("open_alerts") or [])
    _timeline(picture["timeline"])
    _renewals(picture["renewals"])
    _opportunities(picture["opportunities"])


def _first_detail(reasons: list[dict[str, Any]] | None) -> str:
    return text(reasons[0].get("detail")) if reasons else ""


def _components(h: dict[str, Any]) -> None:
    print_table("Components", ("component", "score", "weight", "note"), [
        (text(name), score(c.get("score")), f"{c.get('effective_weight', 0):.0%}", text(c.get("missing")))
        for name, c in (h.get("components") or {}).items()])


def _reasons(reasons: list[dict[str, Any]]) -> None:
    print_table("Why the score is what it is", ("component", "points", "why"), [
        (text(r.get("component")), f"{r.get('delta', 0):+.1f}", text(r.get("detail"))) for r in reasons])


def _alerts(alerts: list[dict[str, Any]]) -> None:
    print_table("Open churn-risk alerts", ("kind", "severity", "raised", "why"), [
        (text(a["kind"]), severity(a.get("severity")), text(str(a.get("raised_at", ""))[:16]),
         _first_detail(a.get("reasons"))) for a in alerts], empty="No open churn-risk alert.")


def _timeline(entries: list[dict[str, Any]]) -> None:
    print_table("Timeline (newest first)", ("when", "kind", "what"), [
        (text(str(e["at"])[:16]), text(e["kind"]), text(e["summary"])) for e in entries],
        empty="Nothing on the timeline.")


def _renewals(renewals: list[dict[str, Any]]) -> None:
    print_table("Renewals", ("date", "days", "ARR", "risk", "stage", "why"), [
        (text(r["renewal_date"]), text(r.get("days_to_renewal")), money(r.get("arr"), r.get("currency")),
         severity(r.get("risk")), text(r.get("stage")), _first_detail(r.get("risk_reasons"))) for r in renewals],
        empty="No pending renewal.")


def _opportunities(opportunities: list[dict[str, Any]]) -> None:
    print_table("Expansion opportunities", ("kind", "product", "stage", "uplift/yr", "confidence", "why"), [
        (text(o["kind"]), text(o.get("product")), text(o.get("stage")), money(o.get("estimated_arr_uplift")),
         f"{o.get('confidence', 0):.2f}", text(o.get("reason"))) for o in opportunities],
        empty="No expansion opportunity.")
