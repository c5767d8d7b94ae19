"""diag.chat: one modelclient turn through the app's transport, summarised."""

from __future__ import annotations

import json
from typing import Any

from background.compose import compose
from background.keepalive import KeepAlive
from modelclient import HttpRequest, MockTransport
from tests.support.aio import run_sync
from tests.unit.background.test_app import FakeHost, run_now


def sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def ok_reply(request: HttpRequest) -> tuple[int, dict[str, str], list[bytes]]:
    usage = {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    return 200, {"x-ratelimit-remaining-requests": "99", "x-ratelimit-limit-requests": "100"}, [
        sse({"type": "response.created", "response": {"id": "r1"}}),
        sse({"type": "response.output_text.delta", "delta": "Hel"}),
        sse({"type": "response.output_text.delta", "delta": "lo"}),
        sse({"type": "response.completed", "response": {"id": "r1", "usage": usage}}),
    ]


def chat(handler: Any, **msg: Any) -> tuple[dict[str, Any], MockTransport]:
    transport = MockTransport(handler)
    options = {"with_timeout": lambda awaitable, seconds: awaitable}
    host = FakeHost()
    keepalive = KeepAlive(host.touch, spawn=lambda coro: coro.close())  # type: ignore[arg-type,return-value]
    app = compose(host, version="1", dev=True, transport=lambda: transport, client_options=options,
                  spawn=run_now, keepalive=keepalive).app
    message = {"type": "diag.chat", "id": 1, "base_url": "http://127.0.0.1:1/v1", "text": "hi", **msg}
    reply = json.loads(run_sync(app.on_runtime_message(json.dumps(message), "dev")))
    return reply, transport


def test_chat_streams_through_the_transport() -> None:
    reply, transport = chat(ok_reply, api_key="sk-x")
    assert reply["type"] == "diag.chat.done" and "error" not in reply
    assert reply["text"] == "Hello"
    assert reply["events"] == ["RateLimits", "Created", "OutputTextDelta", "OutputTextDelta", "Completed"]
    assert reply["total_tokens"] == 5
    assert reply["rate_limits"]["requests"]["remaining"] == 99
    [request] = transport.requests
    assert request.url == "http://127.0.0.1:1/v1/responses"
    assert request.headers["Authorization"] == "Bearer sk-x"


def test_chat_reports_errors_as_json() -> None:
    def unauthorized(request: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        return 401, {}, b'{"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}'

    reply, _ = chat(unauthorized, api_key="sk-bad")
    assert reply["error"]["kind"] == "unauthorized"
    assert reply["text"] == ""


def test_chat_needs_a_base_url() -> None:
    reply, _ = chat(ok_reply, base_url=None)
    assert (reply["type"], reply["code"]) == ("error", "bad_request")
