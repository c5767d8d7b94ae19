"""build_chat_request: the Chat Completions body built from the same Prompt as a Responses turn.

The bodies are also checked against the openai SDK's chat types in
tests/integration/test_sdk_request_types.py (CPython only: the SDK is not in Pyodide).
"""

from __future__ import annotations

from typing import Any

import pytest

from modelclient._chat_request import build_chat_request, chat_messages, chat_tools
from modelclient._items import parse_items
from modelclient._provider import ModelProviderInfo, ModelSettings
from modelclient._request import FunctionTool, LocalShellTool, Prompt, WebSearchTool

WEATHER = FunctionTool(
    name="get_weather",
    description="Weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def user(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": list(parts)}


def text(value: str) -> dict[str, Any]:
    return {"type": "input_text", "text": value}


def assistant(value: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": value}]}


def messages(items: list[dict[str, Any]], instructions: str = "Be brief.") -> list[dict[str, Any]]:
    return chat_messages(parse_items(items), instructions)


def test_minimal_body() -> None:
    prompt = Prompt(input=parse_items([user(text("hi"))]))
    body = build_chat_request(prompt, ModelSettings(model="deepseek-chat"), base_instructions="Be brief.")
    assert body.to_payload() == {
        "model": "deepseek-chat",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


CONVERSIONS = [
    ("no instructions, no system message", [user(text("hi"))], "",
     [{"role": "user", "content": "hi"}]),
    ("page context and typed text stay apart", [user(text("<page>…</page>"), text("Summarise"))], "",
     [{"role": "user", "content": "<page>…</page>\n\nSummarise"}]),
    ("an image makes content parts",
     [user(text("What is this?"), {"type": "input_image", "image_url": "data:image/png;base64,AA"})], "",
     [{"role": "user", "content": [
         {"type": "text", "text": "What is this?"},
         {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}]),
    ("developer is sent as system",
     [{"type": "message", "role": "developer", "content": [text("rules")]}], "",
     [{"role": "system", "content": "rules"}]),
    ("assistant text parts are one answer", [{"type": "message", "role": "assistant", "content": [
        {"type": "output_text", "text": "Hel"}, {"type": "output_text", "text": "lo"}]}], "",
     [{"role": "assistant", "content": "Hello"}]),
    ("a user message with nothing sendable is dropped",
     [{"type": "message", "role": "user", "content": [{"type": "refusal", "refusal": "no"}]}], "", []),
    ("an assistant message with no text is dropped", [{"type": "message", "role": "assistant", "content": [
        {"type": "refusal", "refusal": "no"}]}], "", []),
    ("a function call and its output", [
        user(text("Weather in Paris?")),
        {"type": "function_call", "name": "get_weather", "arguments": "{}", "call_id": "c1"},
        {"type": "function_call_output", "call_id": "c1", "output": "18C"},
        assistant("18C in Paris."),
    ], "", [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
        {"role": "assistant", "content": "18C in Paris."},
    ]),
    ("parallel calls and the text before them share one assistant message", [
        user(text("Compare")),
        assistant("Checking both."),
        {"type": "function_call", "name": "f", "arguments": "{}", "call_id": "a"},
        {"type": "function_call", "name": "f", "arguments": "{}", "call_id": "b"},
        {"type": "function_call_output", "call_id": "a", "output": [text("one"), text("two")]},
        {"type": "function_call_output", "call_id": "b", "output": "three"},
    ], "", [
        {"role": "user", "content": "Compare"},
        {"role": "assistant", "content": "Checking both.", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "one\n\ntwo"},
        {"role": "tool", "tool_call_id": "b", "content": "three"},
    ]),
    ("custom tool call and output", [
        {"type": "custom_tool_call", "call_id": "p", "name": "apply_patch", "input": "*** Begin"},
        {"type": "custom_tool_call_output", "call_id": "p", "output": "done"},
    ], "", [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "p", "type": "custom", "custom": {"name": "apply_patch", "input": "*** Begin"}}]},
        {"role": "tool", "tool_call_id": "p", "content": "done"},
    ]),
    ("a local shell call is replayed as a function call so its output still pairs", [
        {"type": "local_shell_call", "call_id": "s", "status": "completed",
         "action": {"type": "exec", "command": ["ls"]}},
        {"type": "function_call_output", "call_id": "s", "output": "a.txt"},
    ], "", [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "s", "type": "function", "function": {"name": "local_shell", "arguments":
                '{"type":"exec","command":["ls"],"timeout_ms":null,"working_directory":null,"env":null,"user":null}'}}]},
        {"role": "tool", "tool_call_id": "s", "content": "a.txt"},
    ]),
    ("reasoning, web search and unknown items have no chat form", [
        user(text("q")),
        {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "hmm"}]},
        {"type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "q"}},
        {"type": "future_item", "x": 1},
        assistant("a"),
    ], "", [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "items", "instructions", "expected"), CONVERSIONS, ids=[c[0] for c in CONVERSIONS]
)
def test_messages(
    name: str, items: list[dict[str, Any]], instructions: str, expected: list[dict[str, Any]]
) -> None:
    assert messages(items, instructions) == expected


def test_instructions_override_and_base() -> None:
    prompt = Prompt(input=parse_items([user(text("hi"))]), base_instructions_override="Override")
    body = build_chat_request(prompt, ModelSettings(model="m"), base_instructions="Base").to_payload()
    assert body["messages"][0] == {"role": "system", "content": "Override"}


def test_only_function_tools_survive() -> None:
    tools = chat_tools([WEATHER, WebSearchTool(), LocalShellTool()])
    assert tools == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city.", "strict": False,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }}]  # fmt: skip


def test_tools_and_parallel_flag_only_with_a_function_tool() -> None:
    settings = ModelSettings(model="m")
    with_tool = build_chat_request(
        Prompt(tools=[WEATHER], parallel_tool_calls=True), settings, base_instructions=""
    )
    assert with_tool.to_payload()["parallel_tool_calls"] is True
    assert len(with_tool.to_payload()["tools"]) == 1
    # A web search alone leaves no tool: no `tools: []` (OpenAI answers 400 to an empty list).
    without = build_chat_request(
        Prompt(tools=[WebSearchTool()], parallel_tool_calls=True), settings, base_instructions=""
    ).to_payload()
    assert "tools" not in without and "parallel_tool_calls" not in without


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (ModelSettings(model="gpt-5-mini", reasoning_effort="low", verbosity="high"),
         {"reasoning_effort": "low", "verbosity": "high"}),
        (ModelSettings(model="o3", reasoning_effort="high", verbosity="high"), {"reasoning_effort": "high"}),
        (ModelSettings(model="gpt-4o", reasoning_effort="high", verbosity="high"), {}),
        (ModelSettings(model="openai/o4-mini", reasoning_effort="low"), {"reasoning_effort": "low"}),
        (ModelSettings(model="openai/gpt-oss-120b", reasoning_effort="high"), {"reasoning_effort": "high"}),
        (ModelSettings(model="o3", reasoning_effort="minimal"), {"reasoning_effort": "minimal"}),
        (ModelSettings(model="deepseek-reasoner", reasoning_effort="high"), {}),
        (ModelSettings(model="qwen3", reasoning_effort="medium", supports_reasoning_summaries=True),
         {"reasoning_effort": "medium"}),
        (ModelSettings(model="gpt-5"), {}),
    ],
)  # fmt: skip
def test_reasoning_effort_and_verbosity_follow_the_family(
    settings: ModelSettings, expected: dict[str, str]
) -> None:
    body = build_chat_request(Prompt(), settings, base_instructions="").to_payload()
    assert {k: body[k] for k in ("reasoning_effort", "verbosity") if k in body} == expected


def test_output_schema_becomes_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"],
              "additionalProperties": False}  # fmt: skip
    body = build_chat_request(Prompt(output_schema=schema), ModelSettings(model="m"), base_instructions="")
    assert body.to_payload()["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "codex_output_schema", "schema": schema, "strict": True},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("provider", "url"),
    [
        (ModelProviderInfo(wire_api="chat"), "https://api.openai.com/v1/chat/completions"),
        (ModelProviderInfo(wire_api="chat", base_url="http://localhost:11434/v1"),
         "http://localhost:11434/v1/chat/completions"),
        (ModelProviderInfo(wire_api="chat", base_url="https://x.example/openai",
                           query_params={"api-version": "1"}),
         "https://x.example/openai/chat/completions?api-version=1"),
        (ModelProviderInfo(base_url="http://h/v1"), "http://h/v1/responses"),
    ],
)  # fmt: skip
def test_stream_url_follows_the_wire_api(provider: ModelProviderInfo, url: str) -> None:
    assert provider.stream_url() == url


def test_models_url() -> None:
    assert ModelProviderInfo(base_url="http://h/v1").models_url() == "http://h/v1/models"
    assert ModelProviderInfo().models_url() == "https://api.openai.com/v1/models"


def test_include_usage_can_be_turned_off_per_provider() -> None:
    prompt, settings = Prompt(), ModelSettings(model="mistral-small-latest")
    off = ModelProviderInfo(wire_api="chat", chat_include_usage=False)
    body = build_chat_request(prompt, settings, base_instructions="", provider=off).to_payload()
    assert "stream_options" not in body
    on = ModelProviderInfo(wire_api="chat")
    body = build_chat_request(prompt, settings, base_instructions="", provider=on).to_payload()
    assert body["stream_options"] == {"include_usage": True}
