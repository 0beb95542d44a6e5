"""POST /v1/backtest (issue 8): the backtest command on a history sent in the body, through the health
service's HTTP app with its database (the scorecards in force come from there)."""

from __future__ import annotations

import gzip

import orjson

from bench.datasets.archetypes import generate
from tests.integration.health.harness import Health
from tests.services import READER, WRITER

ACCOUNTS = 12


def _history() -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in generate(seed=5, accounts=ACCOUNTS, months=6))


async def test_a_history_is_replayed_and_judged_as_json_and_as_a_page(health: Health) -> None:
    history = _history()
    refused = await health.http.post("/v1/backtest", content=history, headers=READER)
    assert refused.status_code == 403, "a backtest is expensive: the write scope"

    answer = await health.http.post("/v1/backtest", content=history, headers=WRITER, timeout=300)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["dataset"]["accounts"] == ACCOUNTS and "files" not in report["dataset"]
    assert report["settings"]["scorecards"].startswith("current")
    ranking = report["ranking"]
    assert ranking["snapshots"] > ACCOUNTS and 0.0 <= ranking["auc"]["score"] <= 1.0
    assert 0.0 <= ranking["auc"]["baseline"] <= 1.0, "the supervised baseline is judged in the same run"
    assert "precision" in report["alerts"] and "recall" in report["alerts"]

    zipped = await health.http.post("/v1/backtest", content=gzip.compress(history), headers=WRITER,
                                    params={"format": "html", "scorecards": "default"}, timeout=300)
    assert zipped.status_code == 200, zipped.text
    assert zipped.headers["content-type"].startswith("text/html")
    assert "<svg" in zipped.text and "uploaded history" in zipped.text
    assert "alert_ceiling" not in report and "What this book allows" not in zipped.text

    with_ceiling = await health.http.post("/v1/backtest", content=history, headers=WRITER,
                                          params={"alert_ceiling": "true"}, timeout=300)
    assert with_ceiling.status_code == 200, with_ceiling.text
    ceiling = with_ceiling.json()["alert_ceiling"]
    assert ceiling["accounts"] == ACCOUNTS and ceiling["points"] and "meets_all" in ceiling["frontier"]


async def test_what_cannot_be_replayed_is_a_clear_400(health: Health) -> None:
    empty = await health.http.post("/v1/backtest", content=b"\n", headers=WRITER)
    assert empty.status_code == 400 and "empty" in empty.json()["error"]["message"]
    binary = await health.http.post("/v1/backtest", content=b"\x00\x01not json", headers=WRITER)
    assert binary.status_code == 400 and "neither JSON Lines" in binary.json()["error"]["message"]
    bad_kind = await health.http.post("/v1/backtest", content=_history(), headers=WRITER,
                                      params={"snapshots": "weekly"}, timeout=300)
    assert bad_kind.status_code == 400 and "weekly" in bad_kind.json()["error"]["message"]
    nothing_valid = await health.http.post("/v1/backtest", content=b'{"not": "an event"}\n', headers=WRITER,
                                           timeout=300)
    assert nothing_valid.status_code == 400, nothing_valid.text
    assert "no valid event" in nothing_valid.json()["error"]["message"]
