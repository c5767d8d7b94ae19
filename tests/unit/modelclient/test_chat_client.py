"""ModelClient on the Chat Completions wire API, over MockTransport.

The same client, retries, classifier and events as the Responses wire; only the
URL, the body and the stream adapter change with ``ModelProviderInfo.wire_api``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelclient._client import Reconnecting
from modelclient._errors import (
    InvalidRequestError,
    RetryLimitError,
    StreamError,
    UnauthorizedError,
    UnexpectedStatusError,
)
from modelclient._events import Completed, Created, OutputItemDone, OutputTextDelta, RateLimits
from modelclient._provider import ModelProviderInfo

from .test_client import SSE_HEADERS, collect, collect_until_error, make_client, prompt, replies

CHAT = ModelProviderInfo(base_url="http://127.0.0.1:9/v1", wire_api="chat")


def chunks(text: str = "Hi there", *, finish: str | None = "stop", done: bool = True) -> list[bytes]:
    def data(payload: Any) -> bytes:
        return f"data: {json.dumps(payload)}\n\n".encode()

    base = {"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    out = [data({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})]
    for word in text.split(" "):
        out.append(data({**base, "choices": [{"index": 0, "delta": {"content": word}}]}))
    if finish is not None:
        out.append(data({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}))
        usage = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
        out.append(data({**base, "choices": [], "usage": usage}))
    if done:
        out.append(b"data: [DONE]\n\n")
    return out


OK = (200, SSE_HEADERS, chunks())


def chat_client(*answers: Any, **kw: Any) -> Any:
    return make_client(replies(*answers), provider=kw.pop("provider", CHAT), **kw)


def test_posts_chat_completions_with_the_same_headers() -> None:
    client, transport, _ = chat_client(OK)
    collect(client.stream(prompt("hello")))
    [request] = transport.requests
    assert (request.method, request.url) == ("POST", "http://127.0.0.1:9/v1/chat/completions")
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert request.headers["Accept"] == "text/event-stream"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body is not None
    body = json.loads(request.body)
    assert body == client.build_request(prompt("hello")).to_payload()
    assert body["messages"] == [{"role": "user", "content": "hello"}]
    assert body["stream_options"] == {"include_usage": True}


def test_a_chat_turn_gives_the_responses_events() -> None:
    client, _, _ = chat_client(OK)
    events = collect(client.stream(prompt()))
    assert isinstance(events[0], RateLimits)
    assert events[1] == Created()
    assert [e.delta for e in events if isinstance(e, OutputTextDelta)] == ["Hi", "there"]
    assert events[-2] == OutputItemDone(
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hithere"}]}
    )
    last = events[-1]
    assert isinstance(last, Completed) and last.response_id == "chatcmpl-9"
    assert last.token_usage is not None and (
        last.token_usage.input_tokens,
        last.token_usage.total_tokens,
    ) == (9, 11)


def test_a_stream_without_done_completes_at_its_end() -> None:
    client, _, _ = chat_client((200, SSE_HEADERS, chunks(done=False)))
    events = collect(client.stream(prompt()))
    assert isinstance(events[-1], Completed) and events[-1].token_usage is not None


def test_a_cut_chat_stream_is_resent_by_stream_turn() -> None:
    client, transport, clock = chat_client((200, SSE_HEADERS, chunks(finish=None, done=False)), OK)
    events = collect(client.stream_turn(prompt()))
    notices = [e for e in events if isinstance(e, Reconnecting)]
    assert len(notices) == 1 and isinstance(notices[0].error, StreamError)
    assert "stream closed before finish_reason" in str(notices[0].error)
    assert len(transport.requests) == 2 and len(clock.sleeps) == 1
    assert isinstance(events[-1], Completed)


def test_5xx_and_429_are_retried_through_the_same_policy() -> None:
    busy = (503, {"retry-after": "2"}, b"")
    client, transport, clock = chat_client(busy, (500, {}, b"oops"), OK)
    events = collect(client.stream(prompt()))
    assert isinstance(events[-1], Completed)
    assert len(transport.requests) == 3
    assert clock.sleeps[0] == 2.0


@pytest.mark.parametrize(
    ("status", "body", "kind", "text"),
    [
        (404, b"404 page not found", UnexpectedStatusError, "404 page not found"),
        (401, b'{"error": {"message": "Invalid API key"}}', UnauthorizedError, "Invalid API key"),
        (400, b'{"error": {"message": "model \'x\' not found", "type": "invalid_request_error"}}',
         InvalidRequestError, "model 'x' not found"),
    ],
)  # fmt: skip
def test_fatal_statuses_go_through_the_classifier(status: int, body: bytes, kind: type, text: str) -> None:
    client, transport, _ = chat_client((status, {}, body))
    _, error = collect_until_error(client.stream(prompt()))
    assert type(error) is kind
    assert text in str(error) or text in getattr(error, "body", "")
    assert len(transport.requests) == 1


def test_429_until_the_budget_is_spent() -> None:
    limited = (429, {"retry-after": "0"}, b'{"error": {"message": "slow down"}}')
    client, transport, _ = chat_client(*[limited] * 5)
    _, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, RetryLimitError)
    assert len(transport.requests) == 5


def test_a_mid_stream_error_is_raised_after_the_partial_events() -> None:
    body = [
        *chunks(finish=None, done=False),
        b'data: {"error": {"message": "upstream died", "type": "server_error"}}\n\n',
        b"data: [DONE]\n\n",
    ]
    client, _, _ = chat_client((200, SSE_HEADERS, body))
    events, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, StreamError) and "upstream died" in str(error)
    assert any(isinstance(e, OutputTextDelta) for e in events)
    assert not any(isinstance(e, Completed) for e in events)


def test_length_is_reported_as_incomplete_and_not_resent() -> None:
    client, transport, _ = chat_client((200, SSE_HEADERS, chunks(finish="length")))
    events = collect(client.stream_turn(prompt()))
    last = events[-1]
    assert isinstance(last, Completed) and last.incomplete and last.reason == "max_output_tokens"
    assert any(isinstance(e, OutputItemDone) for e in events)  # the partial answer is kept
    assert len(transport.requests) == 1


def test_the_responses_wire_is_unchanged_by_default() -> None:
    assert ModelProviderInfo().wire_api == "responses"
    client, _, _ = make_client(replies())
    assert "input" in client.build_request(prompt()).to_payload()
