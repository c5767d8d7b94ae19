"""modelclient in the service worker: FetchTransport streams from the mock server.

The worker runs a full turn (``diag.chat``) through the browser's ``fetch``; the
mock server on loopback checks the key and records what it received.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mockapi import MockServerThread, cut_reply, openai_rate_limit_headers, text_reply
from tests.e2e.conftest import Extension

pytestmark = pytest.mark.e2e

KEY = "sk-e2e-0123456789"


@pytest.fixture(scope="module")
def server() -> Iterator[MockServerThread]:
    with MockServerThread(api_key=KEY) as srv:
        yield srv


def chat(extension: Extension, server: MockServerThread, **extra: object) -> dict[str, object]:
    message = {"type": "diag.chat", "id": 1, "base_url": server.base_url, "api_key": KEY, "text": "hi"}
    return extension.send({**message, **extra})


def test_a_turn_streams_through_fetch(extension: Extension, server: MockServerThread) -> None:
    server.reset()
    headers = openai_rate_limit_headers()
    server.enqueue(text_reply("Hello from the mock server", chunk_size=5).with_options(headers=headers))
    reply = chat(extension, server)
    assert "error" not in reply, reply
    assert reply["text"] == "Hello from the mock server"
    events = reply["events"]
    assert isinstance(events, list)
    assert events[0] == "RateLimits" and events[-1] == "Completed"
    assert isinstance(reply["rate_limits"], dict) and reply["rate_limits"]["requests"] is not None
    [request] = server.requests_to("responses")
    assert request.bearer == KEY
    assert request.headers["accept"] == "text/event-stream"
    assert request.json is not None and request.json["input"][-1]["content"][0]["text"] == "hi"


def test_a_cut_stream_is_resent(extension: Extension, server: MockServerThread) -> None:
    server.reset()
    server.enqueue(cut_reply(after_deltas=1, text="one two"), text_reply("one two"))
    reply = chat(extension, server)
    assert "error" not in reply, reply
    assert "Reconnecting" in reply["events"]  # type: ignore[operator]
    assert reply["text"] == "one two"
    assert len(server.requests_to("responses")) == 2


def test_a_wrong_key_is_reported(extension: Extension, server: MockServerThread) -> None:
    server.reset()
    reply = chat(extension, server, api_key="sk-wrong")
    error = reply["error"]
    assert isinstance(error, dict) and error["kind"] == "unauthorized"
    assert len(server.requests_to("responses")) == 1
