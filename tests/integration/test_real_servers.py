"""ModelClient over HttpxTransport against servers that behave like real third-party ones.

Each test is one row of what Responses API servers written by other people did
on loopback (compressing the stream, never answering, keeping a rate limit,
putting items only in ``response.completed.output``, ending incomplete, sending
a malformed delta, answering a 200 with a JSON error, a wrong URL), served by a
real aiohttp server over real sockets, so the HTTP stack (content decoding,
repeated headers, timeouts) is the one users have.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import brotli
import pytest
from aiohttp import web
from multidict import CIMultiDict

from modelclient import (
    Completed,
    ConnectionFailedError,
    HttpxTransport,
    InvalidRequestError,
    MessageItem,
    ModelClient,
    ModelClientError,
    ModelProviderInfo,
    ModelSettings,
    OutputItemDone,
    OutputTextDelta,
    Prompt,
    QuotaExceededError,
    RateLimits,
    Reconnecting,
    RetryLimitError,
    RetryPolicy,
    StreamError,
    UnexpectedStatusError,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def sse(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


def text_stream(text: str = "Hello from a compressed stream") -> bytes:
    item = {"type": "message", "role": "assistant", "id": "msg_1",
            "content": [{"type": "output_text", "text": text}]}
    return b"".join([
        sse({"type": "response.created", "response": {"id": "resp_1"}}),
        *(sse({"type": "response.output_text.delta", "delta": w + " "}) for w in text.split()),
        sse({"type": "response.output_item.done", "item": item}),
        sse({"type": "response.completed", "response": {"id": "resp_1", "status": "completed"}}),
    ])


COMPRESS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,  # HTTP "deflate" is the zlib format
    "br": brotli.compress,
}


class Server:
    """An aiohttp server on 127.0.0.1; each test installs its own handler."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.hits = 0
        self.base_url = ""

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        return await self.handler(request)


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[Server]:
    server = Server(handler)
    app = web.Application()
    app.router.add_post("/v1/responses", server._dispatch)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        yield server
    finally:
        await runner.cleanup()


def client(base_url: str, *, sleeps: list[float] | None = None, **provider: Any) -> ModelClient:
    retry = provider.pop("retry", RetryPolicy(rand=lambda: 0.0))

    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)  # recorded, not waited: the value is what is tested

    return ModelClient(
        HttpxTransport(),
        settings=ModelSettings(model="gpt-5.1"),
        provider=ModelProviderInfo(base_url=base_url, **provider),
        auth="sk-test",
        retry=retry,
        **({"sleep": sleep} if sleeps is not None else {}),
    )


async def run(model: ModelClient) -> tuple[list[Any], ModelClientError | None]:
    events: list[Any] = []
    try:
        async with model.stream_turn(
            Prompt(input=[MessageItem(role="user", content=[{"type": "input_text", "text": "hi"}])])
        ) as stream:
            async for event in stream:
                events.append(event)
    except ModelClientError as exc:
        return events, exc
    finally:
        await model.transport.aclose()
    return events, None


def text_of(events: list[Any]) -> str:
    return "".join(e.delta for e in events if isinstance(e, OutputTextDelta))


def go(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


# ------------------------------------------------------------------ content encodings


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_a_compressed_event_stream_is_decoded(encoding: str) -> None:
    body = COMPRESS[encoding](text_stream())

    async def handler(request: web.Request) -> web.StreamResponse:
        assert encoding in request.headers["accept-encoding"]  # httpx advertised it
        headers = {"content-type": "text/event-stream", "content-encoding": encoding}
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        for i in range(0, len(body), 17):  # odd chunks of the compressed bytes
            await response.write(body[i : i + 17])
        await response.write_eof()
        return response

    async def body_() -> None:
        async with serve(handler) as server:
            events, error = await run(client(server.base_url))
        assert error is None
        assert text_of(events).strip() == "Hello from a compressed stream"
        assert isinstance(events[-1], Completed)

    go(body_())


def test_a_gzip_quota_error_is_classified_and_not_retried() -> None:
    quota = {"error": {"message": "You exceeded your current quota.", "type": "insufficient_quota",
                       "code": "insufficient_quota"}}

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=429, body=gzip.compress(json.dumps(quota).encode()),
                            headers={"content-type": "application/json", "content-encoding": "gzip"})

    async def body_() -> None:
        async with serve(handler) as server:
            _, error = await run(client(server.base_url))
            assert server.hits == 1
        assert isinstance(error, QuotaExceededError)

    go(body_())


def test_a_gzip_400_shows_its_message_not_binary() -> None:
    bad = {"error": {"message": "Unsupported parameter: 'temperature'.", "type": "invalid_request_error"}}

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=400, body=gzip.compress(json.dumps(bad).encode()),
                            headers={"content-type": "application/json", "content-encoding": "gzip"})

    async def body_() -> None:
        async with serve(handler) as server:
            _, error = await run(client(server.base_url))
            assert server.hits == 1
        assert isinstance(error, InvalidRequestError)
        assert str(error) == "Unsupported parameter: 'temperature'."

    go(body_())


def test_a_body_that_is_not_really_gzip_is_a_stream_error() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"not gzip at all",
                            headers={"content-type": "text/event-stream", "content-encoding": "gzip"})

    async def body_() -> None:
        async with serve(handler) as server:
            _, error = await run(client(server.base_url, retry=RetryPolicy(stream_max_retries=0)))
        assert isinstance(error, StreamError)
        assert "could not decode the gzip response body" in error.message

    go(body_())


# ------------------------------------------------------------------ headers


def test_repeated_headers_keep_their_first_value() -> None:
    calls = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            headers = CIMultiDict([("retry-after", "2"), ("retry-after", "60")])
            return web.Response(status=429, text="slow down", headers=headers)
        headers = CIMultiDict([("content-type", "text/event-stream"),
                               ("x-ratelimit-limit-requests", "500"), ("x-ratelimit-limit-requests", "9")])
        return web.Response(body=text_stream("ok"), headers=headers)

    async def body_() -> None:
        sleeps: list[float] = []
        async with serve(handler) as server:
            events, error = await run(client(server.base_url, sleeps=sleeps))
        assert error is None
        assert sleeps == [2.0]
        limits = next(e for e in events if isinstance(e, RateLimits))
        assert limits.snapshot.requests is not None and limits.snapshot.requests.limit == 500

    go(body_())


# ------------------------------------------------------------------ silence


def test_a_server_that_never_answers_hits_the_connect_timeout() -> None:
    async def body_() -> None:
        accepted: list[asyncio.StreamWriter] = []

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(writer)  # read nothing, answer nothing, keep the socket open

        tcp = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = tcp.sockets[0].getsockname()[1]
        retry = RetryPolicy(request_max_retries=1, stream_max_retries=1, rand=lambda: 0.0)
        model = client(f"http://127.0.0.1:{port}/v1", connect_timeout_ms=300, retry=retry)
        started = time.monotonic()
        events, error = await run(model)
        elapsed = time.monotonic() - started
        tcp.close()
        for writer in accepted:
            writer.close()
        assert isinstance(error, ConnectionFailedError)
        assert "within 0.3 s (connect timeout)" in str(error)
        assert len(accepted) == 4  # 2 request attempts × 2 turn attempts, each cut at 0.3 s
        assert sum(isinstance(e, Reconnecting) for e in events) == 1
        assert elapsed < 10  # without the timeout this test would never end

    go(body_())


# ------------------------------------------------------------------ retries


def test_retry_after_is_honoured_across_turn_retries_up_to_the_cap() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = {"error": {"message": "Rate limit reached for requests", "type": "requests",
                          "code": "rate_limit_exceeded"}}
        return web.json_response(body, status=429, headers={"retry-after": "1"})

    async def body_() -> None:
        sleeps: list[float] = []
        async with serve(handler) as server:
            events, error = await run(client(server.base_url, sleeps=sleeps))
            assert server.hits == 10  # the documented cap per user message
        assert isinstance(error, RetryLimitError)
        assert "Rate limit reached for requests" in str(error)
        assert sleeps == [1.0] * 9  # every wait is the server's, the turn-level one too
        [reconnect] = [e for e in events if isinstance(e, Reconnecting)]
        assert reconnect.delay.total_seconds() == 1.0

    go(body_())


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_sent_once(status: int) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"error": {"message": f"refused with {status}"}}, status=status)

    async def body_() -> None:
        async with serve(handler) as server:
            _, error = await run(client(server.base_url))
            assert server.hits == 1
        assert error is not None and f"refused with {status}" in str(error)

    go(body_())


def test_a_wrong_url_is_reported_not_retried() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise AssertionError("the client must not find this route")

    async def body_() -> None:
        async with serve(handler) as server:
            wrong = server.base_url.removesuffix("/v1")  # forgot the /v1
            _, error = await run(client(wrong))
        assert isinstance(error, UnexpectedStatusError) and not error.retryable
        assert str(error) == f"unexpected status 404 Not Found: 404: Not Found, url: {wrong}/responses"

    go(body_())


def test_a_500_with_a_message_reaches_the_error() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"error": {"message": "LiteLLM: upstream timed out"}}, status=500)

    async def body_() -> None:
        retry = RetryPolicy(request_max_retries=1, stream_max_retries=0, rand=lambda: 0.0)
        async with serve(handler) as server:
            _, error = await run(client(server.base_url, sleeps=[], retry=retry))
        assert error is not None
        assert str(error) == "Internal server error: LiteLLM: upstream timed out"

    go(body_())


# ------------------------------------------------------------------ the stream's content


def stream_handler(*parts: bytes, content_type: str = "text/event-stream") -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": content_type})
        await response.prepare(request)
        for part in parts:
            await response.write(part)
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    return handler


def test_items_only_in_completed_output_are_yielded() -> None:
    message = {"type": "message", "role": "assistant", "id": "msg_1",
               "content": [{"type": "output_text", "text": "Answer only in output"}]}
    call = {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": "{}"}
    handler = stream_handler(
        sse({"type": "response.created", "response": {"id": "r"}}),
        sse({"type": "response.completed", "response": {"id": "r", "status": "completed",
                                                         "output": [message, call]}}),
    )

    async def body_() -> None:
        async with serve(handler) as server:
            events, error = await run(client(server.base_url))
        assert error is None
        assert [e.item for e in events if isinstance(e, OutputItemDone)] == [message, call]
        assert isinstance(events[-1], Completed)

    go(body_())


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (
            {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}},
            "max_output_tokens",
        ),
        ({"status": "failed", "error": {"code": "content_filter", "message": "Filtered."}}, "Filtered."),
    ],
)
def test_an_incomplete_completion_says_so(response: dict[str, Any], reason: str) -> None:
    handler = stream_handler(
        sse({"type": "response.output_text.delta", "delta": "Partial ans"}),
        sse({"type": "response.completed", "response": {"id": "r", **response}}),
    )

    async def body_() -> None:
        async with serve(handler) as server:
            events, error = await run(client(server.base_url))
            assert server.hits == 1
        assert error is None and text_of(events) == "Partial ans"
        done = events[-1]
        assert isinstance(done, Completed) and done.incomplete and done.reason == reason

    go(body_())


def test_a_malformed_delta_mid_stream_is_reported_and_the_item_has_every_word() -> None:
    item = {"type": "message", "role": "assistant", "id": "m",
            "content": [{"type": "output_text", "text": "alpha beta gamma"}]}
    handler = stream_handler(
        sse({"type": "response.output_text.delta", "delta": "alpha "}),
        b'data: {"type": "response.output_text.delta", "delta": "beta \n\n',
        sse({"type": "response.output_text.delta", "delta": "gamma"}),
        sse({"type": "response.output_item.done", "item": item}),
        sse({"type": "response.completed", "response": {"id": "r"}}),
    )

    async def body_() -> None:
        async with serve(handler) as server:
            events, error = await run(client(server.base_url))
        assert error is None
        assert text_of(events) == "alpha gamma"
        done = events[-1]
        assert isinstance(done, Completed) and done.malformed_events == 1
        assert [e.item for e in events if isinstance(e, OutputItemDone)] == [item]

    go(body_())


@pytest.mark.parametrize("content_type", ["application/json", "text/event-stream"])
def test_a_json_error_in_a_200_is_the_servers_message(content_type: str) -> None:
    error_body = json.dumps({"error": {"message": "The model `gpt-9` does not exist",
                                       "type": "invalid_request_error", "code": "model_not_found"}})
    handler = stream_handler(error_body.encode(), content_type=content_type)

    async def body_() -> None:
        async with serve(handler) as server:
            _, error = await run(client(server.base_url))
            assert server.hits == 1
        assert isinstance(error, InvalidRequestError)
        assert str(error) == "The model `gpt-9` does not exist"

    go(body_())


def test_a_data_error_without_type_reaches_the_error() -> None:
    handler = stream_handler(
        sse({"type": "response.created", "response": {"id": "r"}}),
        b'data: {"error": {"message": "provider returned error", "code": 502}}\n\n',
    )

    async def body_() -> None:
        async with serve(handler) as server:
            _, error = await run(client(server.base_url, retry=RetryPolicy(stream_max_retries=0)))
        assert isinstance(error, StreamError)
        # `code` is a number here, so the error object does not parse as Rust's struct.
        assert error.message.startswith("failed to parse error event")

    go(body_())


def test_a_data_error_without_type_with_a_string_code() -> None:
    handler = stream_handler(b'data: {"error": {"message": "provider returned error", "code": "502"}}\n\n')

    async def body_() -> None:
        async with serve(handler) as server:
            _, error = await run(client(server.base_url, retry=RetryPolicy(stream_max_retries=0)))
        assert isinstance(error, StreamError) and error.message == "provider returned error"

    go(body_())
