"""ModelClient on the Chat Completions wire API against llmock's chat routes (a real loopback server).

The same ``llmock serve`` as test_llmock.py (its server fixture is reused): scripted replies
and faults on ``POST /v1/chat/completions`` (and Groq's / Mistral's routes), then
llmock's verdict on how the client coped. What llmock's chat stream looks like is
in tests/fixtures/chat/SOURCES.md; what our client must do is in docs/rust-parity.md.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from modelclient import (
    Completed,
    Created,
    FunctionTool,
    HttpxTransport,
    IdleTimeoutError,
    InternalServerError,
    MessageItem,
    ModelClient,
    ModelClientError,
    ModelProviderInfo,
    ModelSettings,
    OutputItemDone,
    OutputTextDelta,
    Probe,
    Prompt,
    RateLimits,
    Reconnecting,
    RetryPolicy,
    UnexpectedStatusError,
    WireApi,
    detect_wire_api,
    list_models,
)

from .test_llmock import Llmock, clean_verdict
from .test_llmock import llmock_server as chat_llmock_server  # noqa: F401 - the `llmock serve` fixture

QUESTION = "Summarise the Q3 report"
TEXT = "alpha beta gamma delta"
WORDS = ["alpha ", "beta ", "gamma ", "delta"]
WEATHER = FunctionTool(
    name="get_weather",
    description="The weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture
def server(chat_llmock_server: Llmock) -> Iterator[Llmock]:  # noqa: F811 - a fixture argument
    """This module's ``llmock serve`` with an empty journal and no queued behaviours."""
    chat_llmock_server.reset()
    yield chat_llmock_server
    chat_llmock_server.reset()


def run(
    server: Llmock,
    *,
    turn: bool = False,
    path: str = "/v1",
    model: str = "gpt-4o-mini",
    tools: bool = False,
    include_usage: bool = True,
    idle_ms: int | None = None,
) -> tuple[list[Any], ModelClientError | None]:
    async def drive() -> tuple[list[Any], ModelClientError | None]:
        transport = HttpxTransport()
        client = ModelClient(
            transport,
            settings=ModelSettings(model=model),
            provider=ModelProviderInfo(
                base_url=f"{server.url}{path}",
                wire_api="chat",
                chat_include_usage=include_usage,
                stream_idle_timeout_ms=idle_ms,
            ),
            auth="sk-test",
            retry=RetryPolicy(request_max_retries=2, stream_max_retries=2, rand=lambda: 0.0),
        )
        prompt = Prompt(
            input=[MessageItem(role="user", content=[{"type": "input_text", "text": QUESTION}])],
            tools=[WEATHER] if tools else [],
        )
        events: list[Any] = []
        error = None
        try:
            async with client.stream_turn(prompt) if turn else client.stream(prompt) as stream:
                async for event in stream:
                    events.append(event)
        except ModelClientError as exc:
            error = exc
        finally:
            await transport.aclose()
        return events, error

    return asyncio.run(drive())


def reply(**fields: Any) -> dict[str, Any]:
    return {"type": "reply", "text": TEXT, **fields}


def deltas(events: list[Any]) -> list[str]:
    return [e.delta for e in events if isinstance(e, OutputTextDelta)]


def items(events: list[Any]) -> list[dict[str, Any]]:
    return [e.item for e in events if isinstance(e, OutputItemDone)]


def test_a_reply_streams_with_usage(server: Llmock) -> None:
    server.scenario(reply())
    events, error = run(server)
    assert error is None
    assert isinstance(events[0], RateLimits) and events[1] == Created()
    assert deltas(events) == WORDS
    assert items(events) == [{"type": "message", "role": "assistant",
                              "content": [{"type": "output_text", "text": TEXT}]}]  # fmt: skip
    last = events[-1]
    assert isinstance(last, Completed) and last.response_id.startswith("chatcmpl-")
    assert last.token_usage is not None and last.token_usage.output_tokens > 0
    assert last.token_usage.total_tokens == last.token_usage.input_tokens + last.token_usage.output_tokens
    [record] = server.requests()
    assert (record["method"], record["path"], record["status"]) == ("POST", "/v1/chat/completions", 200)
    assert record["body"]["messages"] == [{"role": "user", "content": QUESTION}]
    assert record["body"]["stream_options"] == {"include_usage": True}
    assert server.verdict() == clean_verdict(attempts=1, faults=0)


def test_without_include_usage_the_turn_completes_without_usage(server: Llmock) -> None:
    server.scenario(reply())
    events, error = run(server, include_usage=False)
    assert error is None
    assert isinstance(events[-1], Completed) and events[-1].token_usage is None
    assert "stream_options" not in server.requests()[0]["body"]


def test_tool_calls_are_assembled_from_their_fragments(server: Llmock) -> None:
    calls = [{"name": "get_weather", "arguments": {"city": "Paris"}},
             {"name": "get_weather", "arguments": {"city": "Saint-Étienne-de-Tinée"}}]  # fmt: skip
    server.scenario({"type": "reply", "tool_calls": calls})
    events, error = run(server, tools=True)
    assert error is None
    got = [i for i in items(events) if i["type"] == "function_call"]
    expected = [(c["name"], c["arguments"]) for c in calls]
    assert [(c["name"], json.loads(c["arguments"])) for c in got] == expected
    assert len({c["call_id"] for c in got}) == 2
    body = server.requests()[0]["body"]
    assert body["tools"][0]["function"]["name"] == "get_weather"


def test_groq_and_mistral_routes(server: Llmock) -> None:
    routes = (("/groq/openai/v1", "llama-3.3-70b-versatile"), ("/mistral/v1", "mistral-small-latest"))
    for path, model in routes:
        server.reset()
        server.scenario(reply())
        events, error = run(server, path=path, model=model, include_usage=path != "/mistral/v1")
        assert error is None, path
        assert deltas(events) == WORDS and isinstance(events[-1], Completed), path


def test_length_is_incomplete_and_keeps_the_partial_answer(server: Llmock) -> None:
    server.scenario(reply(finish_reason="length"))
    events, error = run(server, turn=True)
    assert error is None
    last = events[-1]
    assert isinstance(last, Completed) and (last.status, last.reason) == ("incomplete", "max_output_tokens")
    assert items(events)[0]["content"][0]["text"] == TEXT
    assert len(server.requests()) == 1  # a truncated answer is an answer: not re-sent


def test_a_truncated_stream_is_not_accepted_and_the_turn_resends(server: Llmock) -> None:
    server.scenario({"type": "stream_fault", "kind": "truncate", "after_chunks": 3}, reply(times=2))
    events, error = run(server, turn=True)
    assert error is None
    notices = [e for e in events if isinstance(e, Reconnecting)]
    assert len(notices) == 1 and "stream closed before finish_reason" in str(notices[0].error)
    assert isinstance(events[-1], Completed)
    verdict = server.verdict()
    assert not any(f["code"] == "truncated_stream_accepted" for f in verdict["findings"]), verdict
    assert verdict["passed"] is True


def test_a_dropped_connection_is_resent(server: Llmock) -> None:
    server.scenario({"type": "stream_fault", "kind": "disconnect", "after_chunks": 3}, reply(times=2))
    events, error = run(server, turn=True)
    assert error is None
    assert sum(isinstance(e, Reconnecting) for e in events) == 1
    assert deltas(events[events.index(next(e for e in events if isinstance(e, Reconnecting))) :]) == WORDS
    assert server.verdict()["passed"] is True


def test_a_stall_hits_the_idle_timeout(server: Llmock) -> None:
    server.scenario({"type": "stream_fault", "kind": "stall", "after_chunks": 3, "stall_seconds": 5})
    events, error = run(server, idle_ms=500)
    assert isinstance(error, IdleTimeoutError)
    assert deltas(events)  # the words before the stall arrived


def test_429_with_retry_after_is_waited_out(server: Llmock) -> None:
    server.scenario({"type": "fail", "status": 429, "retry_after": 0.3}, reply())
    events, error = run(server)
    assert error is None and isinstance(events[-1], Completed)
    verdict = server.verdict()
    assert verdict["passed"] is True
    assert not any(f["code"] == "retry_after_ignored" for f in verdict["findings"])


def test_500_until_the_budget_is_spent(server: Llmock) -> None:
    server.scenario({"type": "fail", "status": 500, "times": 3})
    _, error = run(server)
    assert isinstance(error, InternalServerError)
    assert len(server.requests()) == 3  # the first attempt and two retries


def test_a_server_without_chat_completions_is_a_clear_404(server: Llmock) -> None:
    _, error = run(server, path="/no-such-api/v1")
    assert isinstance(error, UnexpectedStatusError) and error.status == 404
    assert len(server.requests()) <= 1  # not retried


# --------------------------------------------------------------------------- discovery


def detect(server: Llmock, path: str) -> tuple[WireApi | None, list[Probe]]:
    async def go() -> tuple[WireApi | None, list[Probe]]:
        transport = HttpxTransport()

        def make(wire: WireApi) -> ModelClient:
            return ModelClient(
                transport,
                settings=ModelSettings(model="gpt-4o-mini"),
                provider=ModelProviderInfo(base_url=f"{server.url}{path}", wire_api=wire),
                auth="sk-test",
                retry=RetryPolicy(request_max_retries=0, stream_max_retries=0),
            )

        try:
            return await detect_wire_api(make)
        finally:
            await transport.aclose()

    return asyncio.run(go())


def test_detection_prefers_responses_where_both_are_served(server: Llmock) -> None:
    wire, probes = detect(server, "/v1")
    assert wire == "responses" and len(probes) == 1 and probes[0].text and probes[0].usage is not None
    assert [r["path"] for r in server.requests()] == ["/v1/responses"]


def test_detection_falls_back_to_chat_where_only_chat_is_served(server: Llmock) -> None:
    wire, probes = detect(server, "/groq/openai/v1")
    assert wire == "chat"
    assert isinstance(probes[0].error, UnexpectedStatusError) and probes[0].error.status == 404
    assert probes[1].text and probes[1].usage is not None
    assert [(r["path"], r["status"]) for r in server.requests()] == [
        ("/groq/openai/v1/responses", 404), ("/groq/openai/v1/chat/completions", 200)]  # fmt: skip


def test_list_models_from_the_server(server: Llmock) -> None:
    async def go(path: str) -> list[str]:
        transport = HttpxTransport()
        try:
            return await list_models(transport, ModelProviderInfo(base_url=f"{server.url}{path}"),
                                     bearer_token="sk-test")  # fmt: skip
        finally:
            await transport.aclose()

    models = asyncio.run(go("/v1"))
    assert "gpt-4o-mini" in models and len(models) == len(set(models))
    assert asyncio.run(go("/groq/openai/v1"))
    try:
        asyncio.run(go("/nowhere/v1"))
    except UnexpectedStatusError as error:
        assert error.status == 404
    else:
        raise AssertionError("a missing model list must fail")
