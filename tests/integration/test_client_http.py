"""ModelClient over HttpxTransport against the mock server on real loopback sockets.

The unit suite covers every decision with an in-memory transport; this proves
the same client works over a real HTTP stack: chunked bodies at odd byte
boundaries, Retry-After timing, cuts, stalls (the idle timeout on a real
event loop), aborts, and the server's view of the requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mockapi import (
    MockResponsesServer,
    cut_reply,
    failed_reply,
    http_error,
    replay,
    stall_reply,
    text_reply,
)
from modelclient._client import ModelClient, Reconnecting
from modelclient._errors import (
    IdleTimeoutError,
    InvalidRequestError,
    ModelClientError,
    UnauthorizedError,
    UsageLimitReachedError,
)
from modelclient._events import Completed, OutputTextDelta, RateLimits
from modelclient._httpx import HttpxTransport
from modelclient._items import MessageItem
from modelclient._provider import ModelProviderInfo, ModelSettings
from modelclient._request import Prompt
from modelclient._retry import RetryPolicy


def prompt(text: str = "hello") -> Prompt:
    return Prompt(input=[MessageItem(role="user", content=[{"type": "input_text", "text": text}])])


async def run(client: ModelClient, *, turn: bool = False) -> tuple[list[Any], ModelClientError | None]:
    events: list[Any] = []
    stream = client.stream_turn(prompt()) if turn else client.stream(prompt())
    try:
        async with stream as s:
            async for e in s:
                events.append(e)
    except ModelClientError as exc:
        return events, exc
    return events, None


def text_of(events: list[Any]) -> str:
    return "".join(e.delta for e in events if isinstance(e, OutputTextDelta))


async def client_for(server: MockResponsesServer, **provider: Any) -> AsyncIterator[ModelClient]:
    transport = HttpxTransport()
    try:
        yield ModelClient(
            transport,
            settings=ModelSettings(model="gpt-4o-mini"),
            provider=ModelProviderInfo(base_url=server.base_url, **provider),
            auth="sk-test",
            retry=RetryPolicy(
                request_max_retries=provider.get("request_max_retries", 4),
                stream_max_retries=provider.get("stream_max_retries", 5),
                rand=lambda: 0.0,  # shortest backoff: 180 ms, 360 ms, ...
            ),
        )
    finally:
        await transport.aclose()


def go(coro: Any) -> Any:
    return asyncio.run(coro)


async def with_server(body: Any, **server_kw: Any) -> Any:
    async with MockResponsesServer(api_key="sk-test", **server_kw) as server:
        return await body(server)


def test_streams_a_reply_split_at_odd_byte_boundaries() -> None:
    async def body(server: MockResponsesServer) -> None:
        server.enqueue(text_reply("The quick brown fox", chunk_size=7))
        async for client in client_for(server):
            events, error = await run(client)
        assert error is None
        assert isinstance(events[0], RateLimits)
        assert text_of(events) == "The quick brown fox"
        assert isinstance(events[-1], Completed)
        [request] = server.requests_to("responses")
        assert request.bearer == "sk-test"
        assert request.json is not None and request.json["stream"] is True

    go(with_server(body))


@pytest.mark.parametrize("name", ["aibridge_simple_gpt4o_mini", "aibridge_cached_input_tokens_codex"])
def test_replays_recorded_streams(name: str) -> None:
    async def body(server: MockResponsesServer) -> None:
        server.enqueue(replay(f"{name}.sse", chunk_size=13))
        async for client in client_for(server):
            events, error = await run(client)
        assert error is None
        last = events[-1]
        assert isinstance(last, Completed) and last.token_usage is not None

    go(with_server(body))


def test_wrong_key_is_unauthorized_and_not_retried() -> None:
    async def body(server: MockResponsesServer) -> None:
        server.api_key = "sk-other"
        async for client in client_for(server):
            _, error = await run(client, turn=True)
        assert isinstance(error, UnauthorizedError)
        assert len(server.requests_to("responses")) == 1

    go(with_server(body))


def test_429_waits_retry_after_then_succeeds() -> None:
    async def body(server: MockResponsesServer) -> None:
        server.enqueue(http_error("rate_limit", retry_after=1), text_reply("ok"))
        async for client in client_for(server):
            events, error = await run(client)
        assert error is None and text_of(events) == "ok"
        first, second = server.requests_to("responses")
        assert second.time - first.time >= 0.95

    go(with_server(body))


def test_5xx_backs_off_and_retries() -> None:
    async def body(server: MockResponsesServer) -> None:
        server.enqueue(http_error("server_error"), http_error("bad_gateway"), text_reply("fine"))
        async for client in client_for(server):
            events, error = await run(client)
        assert error is None and text_of(events) == "fine"
        times = [r.time for r in server.requests_to("responses")]
        assert len(times) == 3
        assert times[1] - times[0] >= 0.17 and times[2] - times[1] >= 0.34

    go(with_server(body))


def test_usage_limit_is_fatal_with_plan_and_reset() -> None:
    async def body(server: MockResponsesServer) -> None:
        server.enqueue(http_error("usage_limit_reached", plan_type="plus", resets_in_seconds=600))
        async for client in client_for(server):
            _, error = await run(client, turn=True)
        assert isinstance(error, UsageLimitReachedError)
        assert error.plan_type == "plus"
        assert error.rate_limits is not None
        assert len(server.requests_to("responses")) == 1

    go(with_server(body))


def test_invalid_request_is_fatal() -> None:
    async def body(server: MockResponsesServer) -> None:
        server.enqueue(http_error("invalid_request", message="Unsupported parameter: 'temperature'"))
        async for client in client_for(server):
            _, error = await run(client, turn=True)
        assert isinstance(error, InvalidRequestError)
        assert "temperature" in str(error)

    go(with_server(body))


def test_cut_stream_is_reconnected_by_the_turn_retry() -> None:
    async def body(server: MockResponsesServer) -> None:
        server.enqueue(cut_reply(after_deltas=2, text="one two three"), text_reply("one two three"))
        async for client in client_for(server):
            events, error = await run(client, turn=True)
        assert error is None
        [notice] = [e for e in events if isinstance(e, Reconnecting)]
        assert notice.message == "Reconnecting... 1/5"
        after = events[events.index(notice) + 1 :]
        assert text_of(after) == "one two three"
        assert isinstance(events[-1], Completed)

    go(with_server(body))


def test_failed_rate_limit_waits_the_hinted_delay() -> None:
    async def body(server: MockResponsesServer) -> None:
        server.enqueue(failed_reply("rate_limit_exceeded", retry_in="0.5s"), text_reply("later"))
        async for client in client_for(server):
            events, error = await run(client, turn=True)
        assert error is None and text_of(events).endswith("later")
        first, second = server.requests_to("responses")
        assert second.time - first.time >= 0.45

    go(with_server(body))


def test_stalled_stream_hits_the_idle_timeout() -> None:
    async def body(server: MockResponsesServer) -> None:
        server.enqueue(stall_reply(after_deltas=1))
        async for client in client_for(server, stream_idle_timeout_ms=300):
            started = time.monotonic()
            _, error = await run(client)
        assert isinstance(error, IdleTimeoutError)
        assert 0.25 <= time.monotonic() - started < 5

    go(with_server(body))


def test_stopping_early_closes_the_connection() -> None:
    async def body(server: MockResponsesServer) -> None:
        server.enqueue(text_reply("a b c d e f g h", delta_delay_ms=200))
        async for client in client_for(server):
            started = time.monotonic()
            async with client.stream(prompt()) as events:
                async for e in events:
                    if isinstance(e, OutputTextDelta):
                        break
            stopped_after = time.monotonic() - started
        # The rest of the reply would take ~1.4 s; stopping returns at once.
        assert stopped_after < 1.0

    go(with_server(body))
