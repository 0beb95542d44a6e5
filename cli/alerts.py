"""``orchard alerts tail``: churn-risk alerts and upsell triggers as they are published, one line
each for people (or one JSON object per line with ``--json``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import orjson

from cli.config import Config
from cli.output import err, money, out, print_json_line, score, severity, text
from cli.topics import tail


def alert_line(topic: str, alert: dict[str, Any]) -> str:
    """One alert or trigger as a line of Rich markup; every value from the topic is escaped."""
    when = text(str(alert.get("occurred_at", ""))[:16].replace("T", " "))
    kind = text(alert.get("kind"))
    account = f"[bold]{text(alert.get('account_id'))}[/]"
    event_type = str(alert.get("type", ""))
    if event_type == "upsell.triggered":
        return (f"{when}  [magenta]upsell[/]    {account}  {kind}  {text(alert.get('product'))}  "
                f"+{money(alert.get('estimated_arr_uplift'))}/yr  confidence {alert.get('confidence', 0):.2f}  "
                f"{text(alert.get('reason'))}")
    reasons = alert.get("reasons") or []
    why = text(reasons[0].get("detail")) if reasons else ""
    status = "[green]resolved[/]" if event_type.endswith(".resolved") else "[red]raised[/]  "
    was = alert.get("previous_score")
    renewal = (f"  renewal in {alert['days_to_renewal']} days, {money(alert.get('arr_at_risk'))} at risk"
               if alert.get("days_to_renewal") is not None else "")
    return (f"{when}  churn risk {status} {account}  {kind}  {severity(alert.get('severity'))}  "
            f"score {score(alert.get('score'))}" + (f" (was {score(was)})" if was is not None else "")
            + f"{renewal}  {why}")


async def tail_alerts(config: Config, *, from_beginning: bool, as_json: bool, count: int | None,
                      seconds: float | None, kinds: list[str], account: str | None) -> int:
    """Print alerts until Ctrl+C, `count` of them, or `seconds`; the number printed."""
    topics = [config.topics.churn_risk, config.topics.upsell]
    shown = 0
    deadline = None if seconds is None else time.monotonic() + seconds

    def ready() -> None:
        start = "the beginning" if from_beginning else "now"
        err.print(f"[dim]watching {', '.join(topics)} from {start} (Ctrl+C stops)[/dim]")

    async def follow() -> None:
        nonlocal shown
        async for record in tail(config.kafka_bootstrap, topics, from_beginning=from_beginning, on_ready=ready):
            try:
                alert = orjson.loads(record.value)
            except orjson.JSONDecodeError:
                err.print(f"[yellow]{record.topic}:{record.partition}@{record.offset} is not JSON; skipped[/]")
                continue
            if (kinds and alert.get("kind") not in kinds) or (account and alert.get("account_id") != account):
                continue
            if as_json:
                print_json_line({"topic": record.topic, **alert})
            else:
                out.print(alert_line(record.topic, alert))
            shown += 1
            if count is not None and shown >= count:
                return

    with contextlib.suppress(TimeoutError):  # --for ran out: a normal end
        await asyncio.wait_for(follow(), timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
    return shown
