"""ModelClient against llm-mock-api, a third-party mock LLM server (PyPI ``llm-mock-api``).

Someone else's server on loopback (FastAPI under uvicorn) that speaks the
Responses API at ``/v1/responses``, with its own event framing: ``data:``-only
lines, ``sequence_number`` on every event, ``response.in_progress``, reasoning
summaries and tool calls as separate output items, and errors as
``{"type": "error", "error": {...}}`` bodies. We drive it through its own
rule API and check what our client makes of it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from llm_mock_api import MockServer, MockServerOptions, ReplyObject, ToolCall

from modelclient import (
    Completed,
    HttpxTransport,
    InputText,
    InvalidRequestError,
    MessageItem,
    ModelClient,
    ModelClientError,
    ModelProviderInfo,
    ModelSettings,
    OutputItemDone,
    OutputTextDelta,
    Prompt,
    ReasoningSummaryDelta,
    Reconnecting,
    RetryLimitError,
    RetryPolicy,
)


async def turn(server: MockServer, text: str, **retry: Any) -> tuple[list[Any], ModelClientError | None]:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    client = ModelClient(
        HttpxTransport(),
        settings=ModelSettings(model="gpt-5.1-codex", reasoning_effort="medium"),
        provider=ModelProviderInfo(base_url=f"{server.url}/v1"),
        auth="sk-llm-mock-api",
        retry=RetryPolicy(rand=lambda: 0.0, **retry),
        sleep=sleep,
    )
    events: list[Any] = []
    prompt = Prompt(input=[MessageItem(role="user", content=[InputText(text=text)])])
    try:
        async with client.stream_turn(prompt) as stream:
            async for event in stream:
                events.append(event)
    except ModelClientError as exc:
        return events, exc
    finally:
        await client.transport.aclose()
    return events, None


def with_server(body: Callable[[MockServer], Awaitable[None]], **options: Any) -> None:
    async def go() -> None:
        async with MockServer(MockServerOptions(host="127.0.0.1", port=0, **options)) as server:
            await body(server)

    asyncio.run(go())


def test_text_and_reasoning_stream() -> None:
    async def body(server: MockServer) -> None:
        server.when("hello").reply(ReplyObject(text="Hi there, how can I help?", reasoning="A greeting."))
        events, error = await turn(server, "hello there")
        assert error is None
        text = "".join(e.delta for e in events if isinstance(e, OutputTextDelta))
        assert text == "Hi there, how can I help?"
        assert "".join(e.delta for e in events if isinstance(e, ReasoningSummaryDelta)) == "A greeting."
        items = [e.item for e in events if isinstance(e, OutputItemDone)]
        assert [i["type"] for i in items] == ["reasoning", "message"]
        done = events[-1]
        assert isinstance(done, Completed) and not done.incomplete and done.malformed_events == 0
        assert done.token_usage is not None and done.token_usage.total_tokens > 0
        [recorded] = server.history.all
        assert recorded.request.model == "gpt-5.1-codex" and recorded.request.streaming

    with_server(body, default_chunk_size=4, default_latency=0)


def test_a_tool_call_arrives_as_a_finished_item() -> None:
    async def body(server: MockServer) -> None:
        call = ToolCall(name="get_weather", args={"city": "London"})
        server.when("weather").reply(ReplyObject(tools=[call]))
        events, error = await turn(server, "what is the weather in London?")
        assert error is None
        items = [e.item for e in events if isinstance(e, OutputItemDone)]
        [item] = [item for item in items if item["type"] == "function_call"]
        assert item["name"] == "get_weather" and json.loads(item["arguments"]) == {"city": "London"}
        assert isinstance(events[-1], Completed)

    with_server(body, default_latency=0)


def test_a_rate_limit_is_retried_then_the_reply_streams() -> None:
    async def body(server: MockServer) -> None:
        server.next_error(429, "Rate limit reached for gpt-5.1-codex", "rate_limit_exceeded")
        server.when("again").reply("Second time lucky.")
        events, error = await turn(server, "try again")
        assert error is None
        assert "".join(e.delta for e in events if isinstance(e, OutputTextDelta)) == "Second time lucky."
        assert not any(isinstance(e, Reconnecting) for e in events)  # retried at request level

    with_server(body, default_latency=0)


def test_a_persistent_server_error_carries_the_servers_message() -> None:
    async def body(server: MockServer) -> None:
        for _ in range(3):
            server.next_error(503, "Upstream model unavailable")
        _, error = await turn(server, "anything", request_max_retries=2, stream_max_retries=0)
        assert isinstance(error, RetryLimitError) and error.status == 503
        assert str(error) == (
            "exceeded retry limit, last status: 503 Service Unavailable: Upstream model unavailable"
        )

    with_server(body, default_latency=0)


def test_a_400_is_the_servers_message_and_is_sent_once() -> None:
    async def body(server: MockServer) -> None:
        server.next_error(400, "Unsupported value: 'reasoning.effort'", "invalid_request_error")
        server.when("effort").reply("never sent")
        events, error = await turn(server, "effort")
        assert isinstance(error, InvalidRequestError)
        assert str(error) == "Unsupported value: 'reasoning.effort'"
        assert not any(isinstance(e, Reconnecting) for e in events)

    with_server(body, default_latency=0)
