"""ModelClient over MockTransport: request, retries, streaming, idle timeout, stop.

Driven without an event loop (tests.support.aio.run_sync) so the same tests run
on CPython and inside Pyodide; sleeps and the idle timeout are injected.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Iterable
from datetime import timedelta
from typing import Any

import pytest

from modelclient._client import ModelClient, Reconnecting, ResponseStream
from modelclient._errors import (
    ConnectionFailedError,
    ContextWindowExceededError,
    IdleTimeoutError,
    InternalServerError,
    InvalidRequestError,
    ModelClientError,
    RetryLimitError,
    StreamError,
    UnauthorizedError,
    UsageLimitReachedError,
)
from modelclient._events import Completed, Created, OutputItemDone, OutputTextDelta, RateLimits
from modelclient._items import MessageItem
from modelclient._provider import ModelProviderInfo, ModelSettings
from modelclient._request import Prompt
from modelclient._retry import RetryPolicy
from modelclient._transport import HttpRequest, MockTransport
from tests.support.aio import run_sync

CONVERSATION = "0199f0c2-6b1e-7d30-9a51-3c2b8f1e4d77"
SSE_HEADERS = {"content-type": "text/event-stream"}


def event(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


def reply_body(text: str = "Hi there", *, completed: bool = True) -> list[bytes]:
    parts = [event({"type": "response.created", "response": {"id": "resp_1"}})]
    for word in text.split(" "):
        parts.append(event({"type": "response.output_text.delta", "delta": word}))
    item = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
    parts.append(event({"type": "response.output_item.done", "item": item}))
    if completed:
        usage = {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}
        parts.append(event({"type": "response.completed", "response": {"id": "resp_1", "usage": usage}}))
    return parts


def error_body(kind: str, message: str, **extra: Any) -> bytes:
    return json.dumps({"error": {"type": kind, "message": message, **extra}}).encode()


class Clock:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def no_timeout(awaitable: Awaitable[Any], seconds: float) -> Awaitable[Any]:
    return awaitable


def make_client(
    handler: Any, *, auth: Any = "sk-test", **kw: Any
) -> tuple[ModelClient, MockTransport, Clock]:
    transport = MockTransport(handler)
    clock = Clock()
    kw.setdefault("retry", RetryPolicy(rand=lambda: 0.5))
    client = ModelClient(
        transport,
        settings=ModelSettings(model="gpt-5-codex"),
        provider=kw.pop("provider", ModelProviderInfo(base_url="http://127.0.0.1:9/v1")),
        auth=auth,
        conversation_id=CONVERSATION,
        sleep=clock.sleep,
        with_timeout=kw.pop("with_timeout", no_timeout),
        **kw,
    )
    return client, transport, clock


def prompt(text: str = "hello") -> Prompt:
    return Prompt(input=[MessageItem(role="user", content=[{"type": "input_text", "text": text}])])


def collect(stream: ResponseStream) -> list[Any]:
    async def go() -> list[Any]:
        async with stream as events:
            return [e async for e in events]

    return run_sync(go())


def collect_until_error(stream: ResponseStream) -> tuple[list[Any], ModelClientError | None]:
    seen: list[Any] = []

    async def go() -> None:
        async with stream as events:
            async for e in events:
                seen.append(e)

    try:
        run_sync(go())
    except ModelClientError as exc:
        return seen, exc
    return seen, None


def replies(*items: tuple[int, dict[str, str], Any] | Exception) -> Any:
    """A handler answering the queued replies in order (an exception = no response)."""
    queue = list(items)

    def handler(request: HttpRequest) -> tuple[int, dict[str, str], Any]:
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler


OK = (200, SSE_HEADERS, reply_body())


# ------------------------------------------------------------------ the request


def test_posts_the_rust_request_with_the_rust_headers() -> None:
    client, transport, _ = make_client(replies(OK))
    collect(client.stream(prompt("hello")))
    [request] = transport.requests
    assert (request.method, request.url) == ("POST", "http://127.0.0.1:9/v1/responses")
    headers = request.headers
    assert headers["Authorization"] == "Bearer sk-test"
    assert headers["Accept"] == "text/event-stream"
    assert headers["Content-Type"] == "application/json"
    assert headers["session_id"] == headers["conversation_id"] == CONVERSATION
    assert headers["originator"]
    assert "chatgpt-account-id" not in headers
    assert request.body is not None
    body = json.loads(request.body)
    assert body == client.build_request(prompt("hello")).to_payload()
    assert (body["model"], body["stream"], body["prompt_cache_key"]) == ("gpt-5-codex", True, CONVERSATION)
    assert body["input"][-1]["content"][0]["text"] == "hello"


def test_no_auth_sends_no_authorization_header() -> None:
    client, transport, _ = make_client(replies(OK), auth=None)
    collect(client.stream(prompt()))
    assert "Authorization" not in transport.requests[0].headers


def test_api_key_is_not_in_the_auth_repr() -> None:
    client, _, _ = make_client(replies(OK))
    assert "sk-test" not in repr(client.auth)


# ------------------------------------------------------------------ streaming


def test_rate_limits_first_then_events_then_completed() -> None:
    headers = {**SSE_HEADERS, "x-codex-primary-used-percent": "12.5", "x-codex-primary-window-minutes": "300"}
    client, _, _ = make_client(replies((200, headers, reply_body("Hi there"))))
    events = collect(client.stream(prompt()))
    assert isinstance(events[0], RateLimits)
    assert events[0].snapshot.primary is not None and events[0].snapshot.primary.used_percent == 12.5
    assert isinstance(events[1], Created)
    assert [e.delta for e in events if isinstance(e, OutputTextDelta)] == ["Hi", "there"]
    assert isinstance(events[-2], OutputItemDone)
    last = events[-1]
    assert isinstance(last, Completed) and last.response_id == "resp_1"
    assert last.token_usage is not None and last.token_usage.total_tokens == 12


def test_bytes_split_anywhere_give_the_same_events() -> None:
    whole = b"".join(reply_body("a b c"))
    expected = collect(make_client(replies((200, SSE_HEADERS, whole)))[0].stream(prompt()))
    for size in (1, 3, 7, 64):
        chunks = [whole[i : i + size] for i in range(0, len(whole), size)]
        client, _, _ = make_client(replies((200, SSE_HEADERS, chunks)))
        assert collect(client.stream(prompt())) == expected


def test_stream_cut_before_completed_is_a_stream_error_and_the_body_is_closed() -> None:
    client, _, _ = make_client(replies((200, SSE_HEADERS, reply_body(completed=False))))
    events, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, StreamError)
    assert str(error) == "stream disconnected before completion: stream closed before response.completed"
    assert any(isinstance(e, OutputTextDelta) for e in events)


def test_transport_failure_mid_body_surfaces_as_stream_error() -> None:
    body = [*reply_body(completed=False)[:2], ConnectionResetError("connection reset by peer")]
    client, _, _ = make_client(replies((200, SSE_HEADERS, body)))
    _, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, StreamError) and "connection reset" in str(error)


def test_completed_ends_reading_even_if_the_server_keeps_the_socket_open() -> None:
    never = RuntimeError("read past response.completed")
    client, transport, _ = make_client(replies((200, SSE_HEADERS, [*reply_body(), never])))
    events = collect(client.stream(prompt()))
    assert isinstance(events[-1], Completed)
    assert transport.closed_early == 1  # the rest of the body was abandoned (aborted)


def test_idle_timeout_between_chunks() -> None:
    reads = 0

    def timeout_on_third_read(awaitable: Awaitable[Any], seconds: float) -> Awaitable[Any]:
        nonlocal reads
        reads += 1
        assert seconds == 300.0  # Rust's default, 300 000 ms
        if reads == 3:
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()
            raise TimeoutError
        return awaitable

    client, transport, _ = make_client(
        replies((200, SSE_HEADERS, reply_body())), with_timeout=timeout_on_third_read
    )
    _, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, IdleTimeoutError)
    assert transport.closed_early == 1


def test_idle_timeout_comes_from_the_provider() -> None:
    seen: list[float] = []

    def record(awaitable: Awaitable[Any], seconds: float) -> Awaitable[Any]:
        seen.append(seconds)
        return awaitable

    provider = ModelProviderInfo(base_url="http://x/v1", stream_idle_timeout_ms=1500)
    client, _, _ = make_client(replies(OK), provider=provider, with_timeout=record)
    collect(client.stream(prompt()))
    assert seen and set(seen) == {1.5}


def test_stopping_early_aborts_the_request() -> None:
    client, transport, _ = make_client(replies(OK))

    async def first_delta() -> str:
        async with client.stream(prompt()) as events:
            async for e in events:
                if isinstance(e, OutputTextDelta):
                    return e.delta
        raise AssertionError("no delta")

    assert run_sync(first_delta()) == "Hi"
    assert transport.closed_early == 1


# ------------------------------------------------------------- request retries


def test_5xx_is_retried_with_backoff_then_succeeds() -> None:
    client, transport, clock = make_client(replies((500, {}, b"oops"), (502, {}, b"bad gateway"), OK))
    events = collect(client.stream(prompt()))
    assert isinstance(events[-1], Completed)
    assert len(transport.requests) == 3
    assert clock.sleeps == [0.2, 0.4]  # backoff(1), backoff(2) with jitter x1.0


def test_retry_after_header_is_honoured_for_429() -> None:
    rate_limited = (429, {"retry-after": "3"}, error_body("rate_limit_exceeded", "slow down"))
    client, _, clock = make_client(replies(rate_limited, OK))
    collect(client.stream(prompt()))
    assert clock.sleeps == [3.0]


def test_500_until_the_budget_is_spent_is_an_internal_server_error() -> None:
    client, transport, clock = make_client(replies(*[(500, {}, b"")] * 5))
    _, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, InternalServerError)
    assert len(transport.requests) == 5  # request_max_retries 4 -> 5 attempts
    assert len(clock.sleeps) == 4


def test_429_until_the_budget_is_spent_is_a_retry_limit_error() -> None:
    limited = (429, {"x-request-id": "req_9"}, error_body("rate_limit_exceeded", "no"))
    client, _, _ = make_client(replies(*[limited] * 5))
    _, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, RetryLimitError)
    assert (error.status, error.request_id) == (429, "req_9")


def test_connection_failures_are_retried_then_reported() -> None:
    client, transport, clock = make_client(replies(*[ConnectionFailedError("refused")] * 5))
    _, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, ConnectionFailedError)
    assert len(transport.requests) == 5 and len(clock.sleeps) == 4


def test_request_budget_comes_from_the_provider() -> None:
    provider = ModelProviderInfo(base_url="http://x/v1", request_max_retries=1)
    client, transport, _ = make_client(replies(*[(503, {}, b"")] * 3), provider=provider, retry=None)
    collect_until_error(client.stream(prompt()))
    assert len(transport.requests) == 2


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (
            401,
            error_body("invalid_request_error", "Incorrect API key provided", code="invalid_api_key"),
            UnauthorizedError,
        ),
        (
            400,
            error_body("invalid_request_error", "Unsupported parameter: 'temperature'"),
            InvalidRequestError,
        ),
        (
            429,
            error_body("usage_limit_reached", "limit", plan_type="plus", resets_in_seconds=60),
            UsageLimitReachedError,
        ),
    ],
)
def test_fatal_statuses_are_not_retried(status: int, body: bytes, kind: type[ModelClientError]) -> None:
    client, transport, clock = make_client(replies((status, {}, body)))
    _, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, kind)
    assert len(transport.requests) == 1 and clock.sleeps == []


class ChatGptAuth:
    mode = "chatgpt"
    account_id = "acct_123"
    plan_type = "plus"
    can_refresh = True

    def __init__(self) -> None:
        self.access = "old-token"
        self.refreshes = 0

    async def token(self) -> str | None:
        return self.access

    async def refresh(self) -> None:
        self.refreshes += 1
        self.access = "new-token"


def test_chatgpt_auth_uses_its_base_url_account_header_and_refreshes_on_401() -> None:
    auth = ChatGptAuth()
    client, transport, _ = make_client(
        replies((401, {}, b"expired"), OK), auth=auth, provider=ModelProviderInfo()
    )
    collect(client.stream(prompt()))
    first, second = transport.requests
    assert first.url == "https://chatgpt.com/backend-api/codex/responses"
    assert first.headers["chatgpt-account-id"] == "acct_123"
    assert first.headers["Authorization"] == "Bearer old-token"
    assert second.headers["Authorization"] == "Bearer new-token"
    assert auth.refreshes == 1


# ---------------------------------------------------------------- turn retries


def failed(code: str, message: str) -> list[bytes]:
    return [
        event(
            {"type": "response.failed", "response": {"id": "r", "error": {"code": code, "message": message}}}
        )
    ]


def test_turn_retry_resends_after_a_cut_stream_and_announces_it() -> None:
    cut = (200, SSE_HEADERS, reply_body(completed=False))
    client, transport, clock = make_client(replies(cut, OK))
    events = collect(client.stream_turn(prompt()))
    notices = [e for e in events if isinstance(e, Reconnecting)]
    assert len(notices) == 1
    assert (notices[0].attempt, notices[0].max_attempts) == (1, 5)
    assert notices[0].message == "Reconnecting... 1/5"
    assert isinstance(notices[0].error, StreamError)
    assert isinstance(events[-1], Completed)
    assert len(transport.requests) == 2
    assert clock.sleeps == [0.2]


def test_turn_retry_waits_what_the_server_asked() -> None:
    limited = (
        200,
        SSE_HEADERS,
        failed("rate_limit_exceeded", "Rate limit reached. Please try again in 1.5s."),
    )
    client, _, clock = make_client(replies(limited, OK))
    events = collect(client.stream_turn(prompt()))
    assert [e.delay for e in events if isinstance(e, Reconnecting)] == [timedelta(seconds=1.5)]
    assert clock.sleeps == [1.5]


def test_turn_retry_gives_up_after_the_budget() -> None:
    cut = (200, SSE_HEADERS, reply_body(completed=False))
    client, transport, _ = make_client(replies(*[cut] * 6))
    events, error = collect_until_error(client.stream_turn(prompt()))
    assert isinstance(error, StreamError)
    assert [e.attempt for e in events if isinstance(e, Reconnecting)] == [1, 2, 3, 4, 5]
    assert len(transport.requests) == 6


def test_turn_retry_does_not_retry_fatal_errors() -> None:
    too_long = (200, SSE_HEADERS, failed("context_length_exceeded", "Your input exceeds the context window"))
    client, transport, _ = make_client(replies(too_long))
    events, error = collect_until_error(client.stream_turn(prompt()))
    assert isinstance(error, ContextWindowExceededError)
    assert not any(isinstance(e, Reconnecting) for e in events)
    assert len(transport.requests) == 1


def test_events_of_each_attempt_are_complete() -> None:
    bodies: Iterable[Any] = [
        (200, SSE_HEADERS, reply_body("one two", completed=False)),
        (200, SSE_HEADERS, reply_body("three")),
    ]
    client, _, _ = make_client(replies(*bodies))
    deltas = [e.delta for e in collect(client.stream_turn(prompt())) if isinstance(e, OutputTextDelta)]
    assert deltas == ["one", "two", "three"]


def test_a_401_refreshes_even_when_no_request_retry_is_left() -> None:
    auth = ChatGptAuth()
    client, transport, _ = make_client(
        replies((401, {}, b"expired")),
        auth=auth,
        provider=ModelProviderInfo(),
        retry=RetryPolicy(request_max_retries=0),
    )
    _, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, UnauthorizedError)
    assert auth.refreshes == 1 and len(transport.requests) == 1
