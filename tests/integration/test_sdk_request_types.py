"""Our request JSON against the official SDK's request types (CPython only).

The ``openai`` SDK's TypedDicts describe what the Responses API documents. Codex
(and so this port) sends a few shapes the SDK types are stricter about — the API
accepts them in practice. Those are listed in ``SDK_STRICTER`` with the reason,
and asserted to be refused, so an SDK upgrade that relaxes one shows up here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.responses import ResponseInputItemParam, ToolParam
from openai.types.responses.response_create_params import (
    ResponseCreateParamsStreaming,
)
from pydantic import TypeAdapter, ValidationError

from modelclient._items import dump_item, parse_item, parse_items
from modelclient._provider import ModelProviderInfo, ModelSettings
from modelclient._request import Prompt, build_request

REQUEST = TypeAdapter(ResponseCreateParamsStreaming)
ITEM = TypeAdapter(ResponseInputItemParam)
TOOL = TypeAdapter(ToolParam)

SDK_ACCEPTS: list[dict[str, Any]] = [
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
    {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "hi"}]},
    {"type": "message", "role": "user",
     "content": [{"type": "input_text", "text": "read"},
                 {"type": "input_file", "filename": "a.pdf",
                  "file_data": "data:application/pdf;base64,JVBE"}]},
    {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "c1"},
    {"type": "function_call_output", "call_id": "c1", "output": "ok"},
    {"type": "function_call_output", "call_id": "c1",
     "output": [{"type": "input_text", "text": "see"}]},
    {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "x"},
    {"type": "custom_tool_call", "status": "completed", "call_id": "c2", "name": "p", "input": ""},
    {"type": "custom_tool_call_output", "call_id": "c2", "output": "aborted"},
]  # fmt: skip

SDK_STRICTER: list[tuple[dict[str, Any], str]] = [
    (
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hi"}]},
        "SDK wants id, status and annotations on an assistant output message",
    ),
    (
        {"type": "message", "role": "user",
         "content": [{"type": "input_image", "image_url": "data:image/png;base64,AA"}]},
        "SDK wants `detail` on input_image; Codex A never sends it",
    ),
    (
        {"type": "reasoning", "summary": [],
         "content": [{"type": "reasoning_text", "text": "t"}], "encrypted_content": "e"},
        "SDK wants the reasoning item's id, which serde never sends (store=false)",
    ),
    (
        {"type": "reasoning", "summary": [], "content": None, "encrypted_content": "e"},
        "Codex A sends content: null (should_serialize_reasoning_content(None) is false)",
    ),
    (
        {"type": "web_search_call", "status": "completed",
         "action": {"type": "search", "query": "q"}},
        "SDK wants the web search call's id",
    ),
    (
        {"type": "local_shell_call", "call_id": "c", "status": "completed",
         "action": {"type": "exec", "command": ["ls"], "timeout_ms": None,
                    "working_directory": None, "env": None, "user": None}},
        "SDK wants id and no nulls in the exec action",
    ),
]  # fmt: skip


@pytest.mark.parametrize("wire", SDK_ACCEPTS, ids=lambda w: w["type"])
def test_items_the_sdk_accepts(wire: dict[str, Any]) -> None:
    # Our dump of the parsed item is exactly the wire JSON, and the SDK takes it.
    assert dump_item(parse_item(wire)) == wire
    ITEM.validate_python(wire)


@pytest.mark.parametrize(("wire", "reason"), SDK_STRICTER, ids=[r for _, r in SDK_STRICTER])
def test_items_where_the_sdk_is_stricter_than_the_api(wire: dict[str, Any], reason: str) -> None:
    assert dump_item(parse_item(wire)) == wire
    with pytest.raises(ValidationError):
        ITEM.validate_python(wire)


def test_azure_ids_make_reasoning_and_web_search_valid() -> None:
    items = parse_items(
        [
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "e"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed",
             "action": {"type": "search", "query": "q"}},
        ]
    )  # fmt: skip
    request = build_request(
        Prompt(input=items),
        ModelSettings(model="gpt-4o"),
        base_instructions="x",
        conversation_id="c",
        provider=ModelProviderInfo(name="azure"),
    )
    body = request.to_payload()
    # The reasoning item still carries content: null (see SDK_STRICTER); drop it to
    # check that the re-inserted id is what the SDK needed.
    reasoning = {k: v for k, v in body["input"][0].items() if k != "content"}
    ITEM.validate_python(reasoning)
    ITEM.validate_python(body["input"][1])


TOOLS = [
    {"type": "function", "name": "shell", "description": "d", "strict": False,
     "parameters": {"type": "object", "properties": {}}},
    {"type": "local_shell"},
    {"type": "web_search"},
    {"type": "custom", "name": "apply_patch", "description": "d",
     "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}},
]  # fmt: skip


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t["type"])
def test_tools_match_the_sdk(tool: dict[str, Any]) -> None:
    TOOL.validate_python(tool)


@pytest.mark.parametrize(
    "settings",
    [
        ModelSettings(model="gpt-5", reasoning_effort="high", verbosity="low"),
        ModelSettings(model="gpt-5-codex", reasoning_summary="none"),
        ModelSettings(model="gpt-4o"),
    ],
    ids=lambda s: s.model,
)
def test_request_body_matches_the_sdk(settings: ModelSettings) -> None:
    prompt = Prompt(
        input=parse_items(SDK_ACCEPTS),
        tools=TOOLS,
        output_schema={"type": "object", "properties": {}, "additionalProperties": False},
    )
    body = build_request(
        prompt, settings, base_instructions="Be brief.", conversation_id="conv-1"
    ).to_payload()
    body = json.loads(json.dumps(body))
    assert set(body) <= set(ResponseCreateParamsStreaming.__annotations__)
    validated = REQUEST.validate_python(body)
    assert validated["stream"] is True
    assert validated["include"] == body["include"]
    assert validated.get("reasoning") == body["reasoning"]
    assert validated["text"] == body["text"]
    for item in body["input"]:
        ITEM.validate_python(item)
