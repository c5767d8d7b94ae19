"""The mock server as a Chat-Completions-only provider, driven by ModelClient on the chat wire.

This is the server the e2e tests use for "a provider that only offers Chat Completions":
``/responses`` answers 404, ``/chat/completions`` streams, the key is checked.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from mockapi import MockServerThread
from modelclient import (
    Completed,
    HttpxTransport,
    MessageItem,
    ModelClient,
    ModelClientError,
    ModelProviderInfo,
    ModelSettings,
    OutputTextDelta,
    Prompt,
    RetryPolicy,
    UnauthorizedError,
    detect_wire_api,
    list_models,
)


def turn(base_url: str, key: str, text: str) -> tuple[list[Any], ModelClientError | None]:
    async def go() -> tuple[list[Any], ModelClientError | None]:
        transport = HttpxTransport()
        client = ModelClient(
            transport,
            settings=ModelSettings(model="deepseek-chat"),
            provider=ModelProviderInfo(base_url=base_url, wire_api="chat"),
            auth=key,
            retry=RetryPolicy(request_max_retries=0, stream_max_retries=0),
        )
        prompt = Prompt(
            input=[
                MessageItem(
                    role="user",
                    content=[
                        {"type": "input_text", "text": "<page>context</page>"},
                        {"type": "input_text", "text": text},
                    ],
                )
            ]
        )
        events: list[Any] = []
        try:
            async with client.stream(prompt) as stream:
                events = [e async for e in stream]
        except ModelClientError as exc:
            return events, exc
        finally:
            await transport.aclose()
        return events, None

    return asyncio.run(go())


def test_a_chat_only_server_streams_the_echo_with_usage() -> None:
    with MockServerThread(
        api_key="sk-chat", wire_apis=("chat",), models=("deepseek-chat", "deepseek-reasoner")
    ) as srv:
        events, error = turn(srv.base_url, "sk-chat", "Hello there")
        assert error is None
        assert "".join(e.delta for e in events if isinstance(e, OutputTextDelta)) == "Echo: Hello there"
        last = events[-1]
        assert (
            isinstance(last, Completed) and last.token_usage is not None and last.token_usage.total_tokens > 0
        )
        [record] = srv.requests_to("chat")
        assert record.bearer == "sk-chat" and record.json["stream_options"] == {"include_usage": True}
        assert httpx.post(srv.base_url + "/responses", json={}).status_code == 404

        _, refused = turn(srv.base_url, "sk-other", "Hi")
        assert isinstance(refused, UnauthorizedError)

        async def discover() -> Any:
            transport = HttpxTransport()
            try:
                models = await list_models(
                    transport, ModelProviderInfo(base_url=srv.base_url), bearer_token="sk-chat"
                )

                def make(wire: Any) -> ModelClient:
                    return ModelClient(transport, settings=ModelSettings(model=models[0]),
                                       provider=ModelProviderInfo(base_url=srv.base_url, wire_api=wire),
                                       auth="sk-chat", retry=RetryPolicy(request_max_retries=0))  # fmt: skip

                return models, await detect_wire_api(make)
            finally:
                await transport.aclose()

        models, (wire, probes) = asyncio.run(discover())
        assert models == ["deepseek-chat", "deepseek-reasoner"]
        assert wire == "chat" and probes[-1].text.startswith("Echo:")


def test_both_wires_can_be_offered() -> None:
    with MockServerThread(wire_apis=("responses", "chat")) as srv:
        assert httpx.post(srv.base_url + "/responses", json={"input": "x"}).status_code == 200
        reply = httpx.post(
            srv.base_url + "/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}
        )
        assert reply.json()["choices"][0]["message"]["content"] == "Echo: x"
