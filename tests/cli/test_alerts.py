"""``orchard alerts tail``: a churn-risk alert that health raises shows up live, and again from the
beginning."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.cli.stack import Stack, ending_today
from tests.integration.health.harness import healthy

pytestmark = pytest.mark.e2e


def test_tail_shows_a_churn_risk_alert_as_it_is_raised_and_from_the_beginning(stack: Stack, tmp_path: Path) -> None:
    account = f"unhappy-{uuid.uuid4().hex[:8]}"
    story = healthy(account, days=30)
    calm = len(story.events)
    for day in (31, 32, 33):  # three negative conversations within 30 days: negative_feedback
        story.interaction(day, sentiment=-0.9)
    events = ending_today(story.events)
    stack.feed(events[:calm], tmp_path)
    stack.scored(account)
    follower = stack.popen("alerts", "tail", "--account", account, "--kind", "negative_feedback", "--count", "1",
                           "--for", "120", "--json")
    try:
        assert follower.stderr is not None
        watching = follower.stderr.readline()  # printed once its starting offsets are fixed
        assert "watching" in watching, watching
        stack.feed(events[calm:], tmp_path)
        stdout, stderr = follower.communicate(timeout=130)
    finally:
        follower.kill()
    assert follower.returncode == 0, stderr
    [alert] = [json.loads(line) for line in stdout.splitlines()]
    assert (alert["account_id"], alert["kind"], alert["type"]) == (account, "negative_feedback", "churn_risk.raised")
    assert alert["topic"] == stack.topic("CHURN_RISK")

    replayed = stack.orchard("alerts", "tail", "--from-beginning", "--account", account, "--count", "1", "--for", "60")
    assert replayed.returncode == 0, replayed.stderr
    assert account in replayed.stdout and "negative_feedback" in replayed.stdout and "raised" in replayed.stdout
