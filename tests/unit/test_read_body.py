"""Reading a request body under its size limit (shared.guards.read_body)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from starlette.requests import Request
from starlette.types import Message

from shared.errors import ApiError
from shared.guards import read_body

pytestmark = pytest.mark.unit


def _request(messages: Sequence[Message], headers: Sequence[tuple[bytes, bytes]] = ()) -> Request:
    queue = list(messages)

    async def receive() -> Message:
        return queue.pop(0)

    return Request({"type": "http", "method": "POST", "path": "/", "headers": list(headers)}, receive)


async def test_a_body_in_chunks_is_read_whole() -> None:
    request = _request([{"type": "http.request", "body": b"ab", "more_body": True},
                        {"type": "http.request", "body": b"cd", "more_body": False}])
    assert await read_body(request, max_bytes=4) == b"abcd"


async def test_a_chunked_body_over_the_limit_is_413() -> None:
    request = _request([{"type": "http.request", "body": b"abc", "more_body": True},
                        {"type": "http.request", "body": b"de", "more_body": False}])
    with pytest.raises(ApiError) as refused:
        await read_body(request, max_bytes=4)
    assert refused.value.status == 413


async def test_a_client_gone_mid_body_is_a_refused_request_not_a_crash() -> None:
    request = _request([{"type": "http.request", "body": b"abc", "more_body": True}, {"type": "http.disconnect"}])
    with pytest.raises(ApiError) as refused:
        await read_body(request, max_bytes=100)
    assert refused.value.status == 400 and "went away after 3 bytes" in refused.value.message
