"""Our Chat Completions request bodies against the official SDK's chat types (CPython only).

``openai.types.chat``'s TypedDicts describe what the Chat Completions API
documents. pydantic validates their value types but ignores keys a TypedDict
does not declare, so every object is also checked for undeclared keys, level by
level (body, message, content part, tool call, tool): a key a strict server
(Mistral, Gemini) would refuse fails here first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionContentPartImageParam,
    ChatCompletionContentPartTextParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageCustomToolCallParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionToolMessageParam,
    ChatCompletionUserMessageParam,
)
from openai.types.chat.completion_create_params import CompletionCreateParamsStreaming
from openai.types.shared_params import FunctionDefinition
from pydantic import TypeAdapter, ValidationError

from modelclient._chat_request import build_chat_request
from modelclient._items import parse_items
from modelclient._provider import ModelSettings
from modelclient._request import FreeformTool, FreeformToolFormat, FunctionTool, Prompt, WebSearchTool
from tests.support.paths import REPO

REQUEST = TypeAdapter(CompletionCreateParamsStreaming)

MESSAGE_TYPES: dict[str, Any] = {
    "system": ChatCompletionSystemMessageParam,
    "user": ChatCompletionUserMessageParam,
    "assistant": ChatCompletionAssistantMessageParam,
    "tool": ChatCompletionToolMessageParam,
}
PART_TYPES: dict[str, Any] = {
    "text": ChatCompletionContentPartTextParam,
    "image_url": ChatCompletionContentPartImageParam,
}
CALL_TYPES: dict[str, Any] = {
    "function": ChatCompletionMessageFunctionToolCallParam,
    "custom": ChatCompletionMessageCustomToolCallParam,
}

HISTORY = [
    {"type": "message", "role": "developer",
     "content": [{"type": "input_text", "text": "Answer in French."}]},
    {"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "<page>Paris</page>"}, {"type": "input_text", "text": "Weather?"},
        {"type": "input_image", "image_url": "data:image/png;base64,AA"}]},
    {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "need the tool"}]},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Je regarde."}]},
    {"type": "function_call", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}", "call_id": "c1"},
    {"type": "function_call", "name": "get_weather", "arguments": "{\"city\":\"Lyon\"}", "call_id": "c2"},
    {"type": "function_call_output", "call_id": "c1", "output": "18C"},
    {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "20C"}]},
    {"type": "custom_tool_call", "call_id": "p1", "name": "apply_patch", "input": "*** Begin Patch"},
    {"type": "custom_tool_call_output", "call_id": "p1", "output": "done"},
    {"type": "local_shell_call", "call_id": "s1", "status": "completed",
     "action": {"type": "exec", "command": ["ls"]}},
    {"type": "function_call_output", "call_id": "s1", "output": "a.txt"},
    {"type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "q"}},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "18C et 20C."}]},
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Merci"}]},
]  # fmt: skip

TOOLS = [
    FunctionTool(name="get_weather", description="Weather for a city.",
                 parameters={"type": "object", "properties": {"city": {"type": "string"}},
                             "required": ["city"]}),
    WebSearchTool(),
    FreeformTool(name="apply_patch", description="d",
                 format=FreeformToolFormat(type="grammar", syntax="lark", definition="start: x")),
]  # fmt: skip


def materialize(value: Any) -> Any:
    """The validated value with every lazy ``Iterable[...]`` consumed (pydantic validates
    the items of an ``Iterable`` field only as they are iterated)."""
    if isinstance(value, dict):
        return {k: materialize(v) for k, v in value.items()}
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return value
    return [materialize(v) for v in value]


def validate(body: dict[str, Any]) -> dict[str, Any]:
    validated: dict[str, Any] = materialize(REQUEST.validate_python(body))
    return validated


def keys(typed_dict: Any) -> set[str]:
    return set(get_type_hints(typed_dict))


def assert_declared(body: dict[str, Any]) -> None:
    """Every key of ``body`` and of its nested objects is one the SDK declares."""
    assert set(body) <= keys(CompletionCreateParamsStreaming), set(body) - keys(
        CompletionCreateParamsStreaming
    )
    assert set(body.get("stream_options", {})) <= {"include_usage", "include_obfuscation"}
    for message in body["messages"]:
        kind = MESSAGE_TYPES[message["role"]]
        assert set(message) <= keys(kind), (message["role"], set(message) - keys(kind))
        if isinstance(message["content"], list):
            for part in message["content"]:
                assert set(part) <= keys(PART_TYPES[part["type"]]), part
        for call in message.get("tool_calls", []):
            assert set(call) <= keys(CALL_TYPES[call["type"]]), call
    for tool in body.get("tools", []):
        assert set(tool) <= keys(ChatCompletionFunctionToolParam)
        assert set(tool["function"]) <= keys(FunctionDefinition)


@pytest.mark.parametrize(
    "settings",
    [
        ModelSettings(model="gpt-5-mini", reasoning_effort="minimal", verbosity="low"),
        ModelSettings(model="o4-mini", reasoning_effort="high"),
        ModelSettings(model="deepseek-chat"),
        ModelSettings(model="llama3.2", reasoning_effort="low", supports_reasoning_summaries=True),
    ],
    ids=lambda s: s.model,
)
def test_chat_body_matches_the_sdk(settings: ModelSettings) -> None:
    prompt = Prompt(
        input=parse_items(HISTORY),
        tools=TOOLS,
        parallel_tool_calls=True,
        output_schema={"type": "object", "properties": {}, "additionalProperties": False},
    )
    body = json.loads(
        json.dumps(build_chat_request(prompt, settings, base_instructions="Be brief.").to_payload())
    )
    assert_declared(body)
    validated = validate(body)
    assert validated == body  # nothing coerced or dropped
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "system", "user", "assistant", "tool", "tool", "assistant", "tool",
                     "assistant", "tool", "assistant", "user"]  # fmt: skip


def test_minimal_chat_body_matches_the_sdk() -> None:
    prompt = Prompt(input=parse_items([HISTORY[-1]]))
    body = build_chat_request(prompt, ModelSettings(model="m"), base_instructions="").to_payload()
    assert_declared(body)
    assert validate(body) == body
    assert set(body) == {"model", "messages", "stream", "stream_options"}


def test_validation_reaches_nested_items() -> None:
    body = build_chat_request(Prompt(), ModelSettings(model="m"), base_instructions="x").to_payload()
    body["messages"][0]["content"] = [{"type": "text", "text": 5}]
    with pytest.raises(ValidationError):
        validate(body)


def test_the_key_check_can_fail() -> None:
    body = build_chat_request(Prompt(), ModelSettings(model="m"), base_instructions="x").to_payload()
    body["messages"][0]["reasoning"] = "not a chat field"
    with pytest.raises(AssertionError):
        assert_declared(body)


RECORDED = sorted((REPO / "tests" / "fixtures" / "chat").glob("*.expect.json"))


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.name.removesuffix(".expect.json"))
def test_recorded_request_bodies_match_the_sdk(path: Path) -> None:
    # The bodies the conformance streams answered (tests/fixtures/chat/SOURCES.md).
    body = json.loads(path.read_text())["request"]
    assert_declared(body)
    assert validate(body) == body
