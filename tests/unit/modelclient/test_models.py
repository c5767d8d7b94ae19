"""Request and item models: exact JSON as Rust's serde writes it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from modelclient._items import (
    CustomToolCallItem,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputText,
    LocalShellCallItem,
    MessageItem,
    OtherContent,
    OtherItem,
    OtherWebSearchAction,
    ReasoningItem,
    WebSearchCallItem,
    dump_item,
    dump_items,
    parse_item,
    parse_items,
)
from modelclient._provider import (
    CHATGPT_BASE_URL,
    ModelFamily,
    ModelProviderInfo,
    ModelSettings,
    find_family_for_model,
)
from modelclient._request import (
    FunctionTool,
    Prompt,
    ResponsesApiRequest,
    build_request,
    request_headers,
)


def compact(value: Any) -> str:
    """serde_json::to_string: no spaces, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


CONVERSATION_ID = "0199f0c2-6b1e-7d30-9a51-3c2b8f1e4d77"

# Codex's own example request (version A), verbatim.
SPEC_BODY = (
    '{"model":"gpt-5-codex","instructions":"You are Codex, based on GPT-5. ...","input":[{"type":'
    '"message","role":"user","content":[{"type":"input_text","text":"<user_instructions>\\n\\nbe'
    ' nice\\n\\n</user_instructions>"}]},{"type":"message","role":"user","content":[{"type":'
    '"input_text","text":"<environment_context>\\n  <cwd>/repo</cwd>\\n  <approval_policy>on-re'
    "quest</approval_policy>\\n  <sandbox_mode>workspace-write</sandbox_mode>\\n  <network_access"
    '>restricted</network_access>\\n  <shell>bash</shell>\\n</environment_context>"}]},{"type":"m'
    'essage","role":"user","content":[{"type":"input_text","text":"hello"}]}],"tools":[{"type":"'
    'function","name":"shell","description":"Runs a shell command and returns its output.","str'
    'ict":false,"parameters":{"type":"object","properties":{"command":{"type":"array","items":{"'
    'type":"string"}}},"required":["command"],"additionalProperties":false}}],"tool_choice":"aut'
    'o","parallel_tool_calls":false,"reasoning":{"summary":"auto"},"store":false,"stream":true,"'
    'include":["reasoning.encrypted_content"],"prompt_cache_key":"0199f0c2-6b1e-7d30-9a51-3c2b8f'
    '1e4d77"}'
)


def spec_prompt() -> tuple[Prompt, str]:
    body = json.loads(SPEC_BODY)
    return Prompt(input=parse_items(body["input"]), tools=body["tools"]), body["instructions"]


def build(settings: ModelSettings, prompt: Prompt | None = None, **kw: Any) -> dict[str, Any]:
    prompt = prompt or Prompt(input=[MessageItem(role="user", content=[InputText(text="hi")])])
    request = build_request(prompt, settings, base_instructions="BASE", conversation_id=CONVERSATION_ID, **kw)
    return request.to_payload()


# ---------------------------------------------------------------------------
# The request body
# ---------------------------------------------------------------------------


def test_spec_7_2_example_body_is_byte_exact() -> None:
    prompt, instructions = spec_prompt()
    request = build_request(
        prompt,
        ModelSettings(model="gpt-5-codex"),
        base_instructions=instructions,
        conversation_id=CONVERSATION_ID,
    )
    assert compact(request.to_payload()) == SPEC_BODY
    assert request.model_dump_json() == SPEC_BODY


def test_request_round_trips_through_its_own_json() -> None:
    request = ResponsesApiRequest.model_validate_json(SPEC_BODY)
    assert compact(request.to_payload()) == SPEC_BODY


@pytest.mark.parametrize(
    ("model", "reasoning", "include"),
    [
        ("gpt-5-codex", {"summary": "auto"}, ["reasoning.encrypted_content"]),
        ("gpt-5", {"summary": "auto"}, ["reasoning.encrypted_content"]),
        ("o3", {"summary": "auto"}, ["reasoning.encrypted_content"]),
        ("o4-mini", {"summary": "auto"}, ["reasoning.encrypted_content"]),
        ("codex-mini-latest", {"summary": "auto"}, ["reasoning.encrypted_content"]),
        ("gpt-4.1", None, []),
        ("gpt-4o", None, []),
        ("gpt-4o-mini", None, []),
        ("gpt-oss-120b", None, []),
        ("gpt-3.5-turbo", None, []),
        ("llama3", None, []),  # unknown model
    ],
)
def test_reasoning_is_null_without_summaries(
    model: str, reasoning: dict[str, str] | None, include: list[str]
) -> None:
    body = build(ModelSettings(model=model))
    assert "reasoning" in body  # serialised as null, not omitted
    assert body["reasoning"] == reasoning
    assert body["include"] == include
    assert "text" not in body


@pytest.mark.parametrize(
    ("effort", "summary", "expected"),
    [
        ("high", "detailed", {"effort": "high", "summary": "detailed"}),
        ("minimal", "concise", {"effort": "minimal", "summary": "concise"}),
        (None, "none", {}),  # A sent "none"; left out since 0af7e4a1 (2025-12-11)
        ("medium", "none", {"effort": "medium"}),
        ("low", "auto", {"effort": "low", "summary": "auto"}),
    ],
)
def test_reasoning_fields(effort: Any, summary: Any, expected: dict[str, str]) -> None:
    body = build(ModelSettings(model="gpt-5", reasoning_effort=effort, reasoning_summary=summary))
    assert body["reasoning"] == expected


def test_reasoning_override_for_unknown_models() -> None:
    body = build(ModelSettings(model="my-proxy-model", supports_reasoning_summaries=True))
    assert body["reasoning"] == {"summary": "auto"}
    body = build(ModelSettings(model="gpt-5", supports_reasoning_summaries=False))
    assert body["reasoning"] is None


@pytest.mark.parametrize(
    ("model", "text"),
    [
        ("gpt-5", {"verbosity": "low"}),
        ("gpt-5-mini", {"verbosity": "low"}),
        ("gpt-5-codex", None),  # A: family must be exactly "gpt-5"
        ("gpt-4.1", None),
        ("o3", None),
    ],
)
def test_verbosity_only_for_the_gpt5_family(model: str, text: dict[str, str] | None) -> None:
    body = build(ModelSettings(model=model, verbosity="low"))
    assert body.get("text") == text


def test_output_schema_text_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    prompt = Prompt(input=[], output_schema=schema)
    body = build(ModelSettings(model="gpt-5", verbosity="high"), prompt)
    assert compact(body["text"]) == (
        '{"verbosity":"high","format":{"type":"json_schema","strict":true,"schema":'
        + compact(schema)
        + ',"name":"codex_output_schema"}}'
    )
    body = build(ModelSettings(model="gpt-4o"), prompt)
    assert compact(body["text"]) == (
        '{"format":{"type":"json_schema","strict":true,"schema":'
        + compact(schema)
        + ',"name":"codex_output_schema"}}'
    )


def test_constant_fields_and_omitted_cache_key() -> None:
    request = build_request(
        Prompt(parallel_tool_calls=True),
        ModelSettings(model="gpt-4o"),
        base_instructions="BASE",
        conversation_id=None,
    )
    body = request.to_payload()
    assert (body["tool_choice"], body["stream"], body["store"]) == ("auto", True, False)
    assert body["parallel_tool_calls"] is True
    assert body["tools"] == [] and body["input"] == []
    assert "prompt_cache_key" not in body
    assert list(body) == [
        "model", "instructions", "input", "tools", "tool_choice", "parallel_tool_calls",
        "reasoning", "store", "stream", "include",
    ]  # fmt: skip


@pytest.mark.parametrize(("override", "expected"), [(None, "BASE"), ("Be terse.", "Be terse."), ("", "")])
def test_instructions_override(override: str | None, expected: str) -> None:
    body = build(ModelSettings(model="gpt-5"), Prompt(base_instructions_override=override))
    assert body["instructions"] == expected


def test_other_items_are_not_sent() -> None:
    prompt = Prompt(
        input=parse_items(
            [
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "a"}],
                },
                {"type": "image_generation_call", "id": "ig_1", "result": "..."},
                {"type": "function_call_output", "call_id": "c", "output": "ok"},
            ]
        )
    )
    assert [item["type"] for item in build(ModelSettings(model="gpt-5"), prompt)["input"]] == [
        "message",
        "function_call_output",
    ]


TOOLS = [
    {
        "type": "function",
        "name": "shell",
        "description": "Runs a shell command.",
        "strict": False,
        "parameters": {"type": "object", "properties": {}},
    },
    {"type": "local_shell"},
    {"type": "web_search"},
    {
        "type": "custom",
        "name": "apply_patch",
        "description": "Apply a patch.",
        "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"},
    },
]


def test_tools_json() -> None:
    body = build(ModelSettings(model="gpt-5"), Prompt(tools=TOOLS))
    assert body["tools"] == TOOLS
    assert compact(body["tools"][0]) == (
        '{"type":"function","name":"shell","description":"Runs a shell command.",'
        '"strict":false,"parameters":{"type":"object","properties":{}}}'
    )
    assert FunctionTool(name="f", description="d", parameters={}).strict is False


def test_unknown_tool_type_is_refused() -> None:
    with pytest.raises(ValidationError):
        Prompt(tools=[{"type": "file_search"}])


# ---------------------------------------------------------------------------
# Azure (store: true, attach_item_ids)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "base_url", "azure"),
    [
        ("azure", None, True),
        ("Azure", None, True),
        ("AZURE", "https://example.com", True),
        ("OpenAI", "https://myres.openai.azure.com/openai", True),
        ("x", "https://myres.cognitiveservices.azure.com/openai/v1", True),
        ("x", "https://x.aoai.azure.com", True),
        ("x", "https://gw.azure-api.net/openai", True),
        ("x", "https://edge.azurefd.net/v1", True),
        ("x", "https://MYRES.OPENAI.AZURE.COM/openai", True),
        ("x", "https://x.windows.net/openai", False),  # C-only marker
        ("OpenAI", None, False),
        ("OpenAI", "https://api.openai.com/v1", False),
        ("azure-ish", "http://localhost:11434/v1", False),
    ],
)
def test_azure_detection(name: str, base_url: str | None, azure: bool) -> None:
    provider = ModelProviderInfo(name=name, base_url=base_url)
    assert provider.is_azure_responses_endpoint() is azure
    body = build(ModelSettings(model="gpt-4o"), Prompt(), provider=provider)
    assert body["store"] is azure


def test_azure_reinserts_item_ids_last() -> None:
    items = parse_items(
        [
            {"type": "message", "id": "msg_1", "role": "assistant",
             "content": [{"type": "output_text", "text": "hi"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]},
            {"type": "message", "id": "", "role": "user", "content": []},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "e"},
            {"type": "reasoning", "summary": []},
            {"type": "function_call", "id": "fc_1", "name": "f", "arguments": "{}", "call_id": "c1"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
            {"type": "local_shell_call", "id": "ls_1", "call_id": "c2", "status": "completed",
             "action": {"type": "exec", "command": ["ls"]}},
            {"type": "custom_tool_call", "id": "ct_1", "call_id": "c3", "name": "p", "input": "x"},
            {"type": "custom_tool_call_output", "call_id": "c3", "output": "done"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed",
             "action": {"type": "search", "query": "q"}},
        ]
    )  # fmt: skip
    body = build(ModelSettings(model="gpt-4o"), Prompt(input=items), provider=ModelProviderInfo(name="azure"))
    ids = [obj.get("id") for obj in body["input"]]
    assert ids == ["msg_1", None, None, "rs_1", None, "fc_1", None, "ls_1", "ct_1", None, "ws_1"]
    assert list(body["input"][0])[-1] == "id"
    # Without Azure no id is ever sent.
    plain = build(ModelSettings(model="gpt-4o"), Prompt(input=items))
    assert all("id" not in obj for obj in plain["input"])


# ---------------------------------------------------------------------------
# Provider, URL, headers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "chatgpt", "url"),
    [
        (ModelProviderInfo(), False, "https://api.openai.com/v1/responses"),
        (ModelProviderInfo(), True, f"{CHATGPT_BASE_URL}/responses"),
        (ModelProviderInfo(base_url="http://localhost:8080/v1"), True,
         "http://localhost:8080/v1/responses"),
        (ModelProviderInfo(base_url="https://r.openai.azure.com/openai",
                           query_params={"api-version": "2025-04-01-preview", "x": "a b"}),
         False, "https://r.openai.azure.com/openai/responses?api-version=2025-04-01-preview&x=a b"),
        (ModelProviderInfo(query_params={}), False, "https://api.openai.com/v1/responses?"),
    ],
)  # fmt: skip
def test_responses_url(provider: ModelProviderInfo, chatgpt: bool, url: str) -> None:
    assert provider.responses_url(chatgpt_auth=chatgpt) == url


def test_provider_budgets() -> None:
    default = ModelProviderInfo()
    assert default.effective_request_max_retries() == 4
    assert default.effective_stream_max_retries() == 5
    assert default.stream_idle_timeout() == timedelta(seconds=300)
    custom = ModelProviderInfo(request_max_retries=500, stream_max_retries=0, stream_idle_timeout_ms=1500)
    assert custom.effective_request_max_retries() == 100
    assert custom.effective_stream_max_retries() == 0
    assert custom.stream_idle_timeout() == timedelta(milliseconds=1500)


def test_headers_api_key() -> None:
    provider = ModelProviderInfo(http_headers={"version": "0.1.0"}, organization="org-1", project="  ")
    assert request_headers(
        CONVERSATION_ID, provider=provider, bearer_token="sk-test", user_agent="sidepy/0.1.0"
    ) == {
        "Authorization": "Bearer sk-test",
        "version": "0.1.0",
        "OpenAI-Organization": "org-1",
        "conversation_id": CONVERSATION_ID,
        "session_id": CONVERSATION_ID,
        "Accept": "text/event-stream",
        "originator": "sidepy",
        "User-Agent": "sidepy/0.1.0",
        "Content-Type": "application/json",
    }


def test_headers_chatgpt() -> None:
    got = request_headers(
        "c1", bearer_token="eyJ.access", chatgpt_account_id="acct-1", originator="codex_cli_rs"
    )
    assert got == {
        "Authorization": "Bearer eyJ.access",
        "conversation_id": "c1",
        "session_id": "c1",
        "Accept": "text/event-stream",
        "chatgpt-account-id": "acct-1",
        "originator": "codex_cli_rs",
        "Content-Type": "application/json",
    }


@pytest.mark.parametrize("originator", ["", "bad\nvalue", "naïve"])
def test_invalid_originator_falls_back(originator: str) -> None:
    assert request_headers("c", originator=originator)["originator"] == "sidepy"


def test_no_auth_no_authorization_header() -> None:
    got = request_headers("c", provider=ModelProviderInfo(project="proj_1"))
    assert "Authorization" not in got
    assert got["OpenAI-Project"] == "proj_1"
    assert "OpenAI-Beta" not in got


# ---------------------------------------------------------------------------
# Model families (A's table)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "family", "reasoning", "verbosity"),
    [
        ("o3", "o3", True, False),
        ("o3-mini", "o3", True, False),
        ("o4-mini", "o4-mini", True, False),
        ("codex-mini-latest", "codex-mini-latest", True, False),
        ("gpt-4.1", "gpt-4.1", False, False),
        ("gpt-4.1-mini", "gpt-4.1", False, False),
        ("gpt-oss-20b", "gpt-oss", False, False),
        ("openai/gpt-oss-120b", "gpt-oss", False, False),
        ("gpt-4o", "gpt-4o", False, False),
        ("gpt-3.5-turbo", "gpt-3.5", False, False),
        ("gpt-5-codex", "gpt-5-codex", True, False),
        ("codex-foo", "codex-foo", True, False),
        ("gpt-5", "gpt-5", True, True),
        ("gpt-5-mini", "gpt-5", True, True),
        # The gpt-5.x line (later Codex): codex models are their own family, no verbosity.
        ("gpt-5.1-codex", "gpt-5.1-codex", True, False),
        ("gpt-5.1-codex-max", "gpt-5.1-codex-max", True, False),
        ("gpt-5.1-codex-mini", "gpt-5.1-codex-mini", True, False),
        ("gpt-5.2-codex", "gpt-5.2-codex", True, False),
        ("gpt-5.13-codex", "gpt-5.13-codex", True, False),
        ("gpt-5.1", "gpt-5.1", True, True),
        ("gpt-5.2", "gpt-5.2", True, True),
        ("gpt-5.2-pro", "gpt-5.2", True, True),
        ("gpt-5.", "gpt-5", True, True),  # not a version: plain gpt-5 prefix
    ],
)
def test_find_family_for_model(slug: str, family: str, reasoning: bool, verbosity: bool) -> None:
    assert find_family_for_model(slug) == ModelFamily(slug, family, reasoning, verbosity)


@pytest.mark.parametrize("effort", ["none", "minimal", "low", "medium", "high", "xhigh"])
def test_every_reasoning_effort_is_sent(effort: str) -> None:
    settings = ModelSettings.model_validate({"model": "gpt-5.1-codex-max", "reasoning_effort": effort})
    body = build_request(Prompt(input=[]), settings, base_instructions="", conversation_id="c").to_payload()
    assert body["reasoning"] == {"effort": effort, "summary": "auto"}


def test_unknown_reasoning_effort_is_refused() -> None:
    with pytest.raises(ValidationError):
        ModelSettings.model_validate({"model": "gpt-5", "reasoning_effort": "extreme"})


def test_unknown_model_has_no_family() -> None:
    assert find_family_for_model("claude-3") is None
    assert ModelSettings(model="claude-3").family() == ModelFamily("claude-3", "claude-3", False)


# ---------------------------------------------------------------------------
# ResponseItem shapes
# ---------------------------------------------------------------------------

# (input JSON, exact wire JSON)
ITEM_SHAPES: list[tuple[dict[str, Any], str]] = [
    (
        {"type": "message", "id": "msg_1", "role": "user",
         "content": [{"type": "input_text", "text": "hi"},
                     {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]},
        '{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"},'
        '{"type":"input_image","image_url":"data:image/png;base64,AAAA"}]}',
    ),
    (
        {"type": "message", "role": "user",
         "content": [{"type": "input_text", "text": "read this"},
                     {"type": "input_file", "filename": "a.pdf",
                      "file_data": "data:application/pdf;base64,JVBE"},
                     {"type": "input_file", "file_id": "file-1", "file_url": None}]},
        '{"type":"message","role":"user","content":[{"type":"input_text","text":"read this"},'
        '{"type":"input_file","filename":"a.pdf","file_data":"data:application/pdf;base64,JVBE"},'
        '{"type":"input_file","file_id":"file-1"}]}',
    ),
    (
        {"type": "message", "id": "msg_2", "status": "completed", "role": "assistant",
         "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Hello world"}]},
        '{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hello world"}]}',
    ),
    (
        {"type": "message", "role": "assistant",
         "content": [{"type": "refusal", "refusal": "I can't help with that."}]},
        '{"type":"message","role":"assistant","content":'
        '[{"type":"refusal","refusal":"I can\'t help with that."}]}',
    ),
    (
        {"id": "rs_1", "type": "reasoning", "encrypted_content": "gAAAAB==",
         "summary": [{"type": "summary_text", "text": "**Inspecting**"}]},
        '{"type":"reasoning","summary":[{"type":"summary_text","text":"**Inspecting**"}],'
        '"content":null,"encrypted_content":"gAAAAB=="}',
    ),
    (
        {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "think"}]},
        '{"type":"reasoning","summary":[],"content":[{"type":"reasoning_text","text":"think"}],'
        '"encrypted_content":null}',
    ),
    (
        {"type": "reasoning", "summary": [], "content": [{"type": "text", "text": "t"}]},
        '{"type":"reasoning","summary":[],"encrypted_content":null}',
    ),
    (
        {"type": "reasoning", "summary": [], "content": []},
        '{"type":"reasoning","summary":[],"encrypted_content":null}',
    ),
    (
        {"type": "local_shell_call", "call_id": "call_1", "status": "completed",
         "action": {"type": "exec", "command": ["bash", "-lc", "ls"]}},
        '{"type":"local_shell_call","call_id":"call_1","status":"completed","action":{"type":"exec",'
        '"command":["bash","-lc","ls"],"timeout_ms":null,"working_directory":null,"env":null,"user":null}}',
    ),
    (
        {"type": "local_shell_call", "id": "lsh_1", "call_id": None, "status": "in_progress",
         "action": {"type": "exec", "command": ["ls"], "timeout_ms": 1000, "working_directory": "/w",
                    "env": {"A": "1"}, "user": "me"}},
        '{"type":"local_shell_call","call_id":null,"status":"in_progress","action":{"type":"exec",'
        '"command":["ls"],"timeout_ms":1000,"working_directory":"/w","env":{"A":"1"},"user":"me"}}',
    ),
    (
        {"id": "fc_7f3a01", "type": "function_call", "status": "completed",
         "arguments": '{"command":["bash","-lc","ls -la"],"workdir":"/repo"}',
         "call_id": "call_Qm8ZsX1pT9", "name": "shell"},
        '{"type":"function_call","name":"shell","arguments":"{\\"command\\":[\\"bash\\",\\"-lc\\",'
        '\\"ls -la\\"],\\"workdir\\":\\"/repo\\"}","call_id":"call_Qm8ZsX1pT9"}',
    ),
    (
        {"type": "function_call_output", "call_id": "call_Qm8ZsX1pT9", "output": "total 0"},
        '{"type":"function_call_output","call_id":"call_Qm8ZsX1pT9","output":"total 0"}',
    ),
    (
        {"type": "function_call_output", "call_id": "c",
         "output": [{"type": "input_text", "text": "see"},
                    {"type": "input_image", "image_url": "https://x/y.png"}]},
        '{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"see"},'
        '{"type":"input_image","image_url":"https://x/y.png"}]}',
    ),
    (
        {"type": "custom_tool_call", "name": "apply_patch", "input": "*** Begin Patch\n", "call_id": "c3"},
        '{"type":"custom_tool_call","call_id":"c3","name":"apply_patch","input":"*** Begin Patch\\n"}',
    ),
    (
        {"type": "custom_tool_call", "id": "ctc_1", "status": "completed", "name": "p", "input": "",
         "call_id": "c4"},
        '{"type":"custom_tool_call","status":"completed","call_id":"c4","name":"p","input":""}',
    ),
    (
        {"type": "custom_tool_call_output", "call_id": "c3", "output": "aborted"},
        '{"type":"custom_tool_call_output","call_id":"c3","output":"aborted"}',
    ),
    (
        {"id": "ws_68f1c3aa0c748190b2b1", "type": "web_search_call", "status": "completed",
         "action": {"type": "search", "query": "weather seattle"}},
        '{"type":"web_search_call","status":"completed",'
        '"action":{"type":"search","query":"weather seattle"}}',
    ),
    (
        {"type": "web_search_call", "action": {"type": "search"}},
        '{"type":"web_search_call","action":{"type":"search"}}',
    ),
    (
        {"type": "web_search_call", "status": "completed",
         "action": {"type": "open_page", "url": "https://example.com"}},
        '{"type":"web_search_call","status":"completed","action":{"type":"open_page","url":"https://example.com"}}',
    ),
    (
        {"type": "web_search_call", "action": {"type": "find_in_page", "url": "u", "pattern": "p"}},
        '{"type":"web_search_call","action":{"type":"find_in_page","url":"u","pattern":"p"}}',
    ),
    (
        {"type": "web_search_call", "action": {"type": "screenshot", "x": 1}},
        '{"type":"web_search_call","action":{"type":"screenshot","x":1}}',
    ),
    (
        {"type": "image_generation_call", "id": "ig_1", "status": "completed", "result": "iVBOR"},
        '{"type":"image_generation_call","id":"ig_1","status":"completed","result":"iVBOR"}',
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "wire"), ITEM_SHAPES, ids=lambda v: v.get("type") if isinstance(v, dict) else ""
)
def test_item_wire_json(data: dict[str, Any], wire: str) -> None:
    assert compact(dump_item(parse_item(data))) == wire


@pytest.mark.parametrize(
    ("data", "wire"), ITEM_SHAPES, ids=lambda v: v.get("type") if isinstance(v, dict) else ""
)
def test_item_storage_round_trip(data: dict[str, Any], wire: str) -> None:
    item = parse_item(data)
    stored = json.loads(json.dumps(dump_item(item, storage=True)))
    assert parse_item(stored) == item


def test_wire_form_of_text_only_reasoning_is_not_idempotent() -> None:
    # Rust quirk kept: a content list without reasoning_text is left out, and a
    # missing content then parses as None, which serde writes as null.
    item = parse_item({"type": "reasoning", "summary": [], "content": [{"type": "text", "text": "t"}]})
    wire = dump_item(item)
    assert "content" not in wire
    assert dump_item(parse_item(wire))["content"] is None


def test_storage_keeps_ids_and_success() -> None:
    item = parse_item({"type": "function_call_output", "call_id": "c", "output": "x", "success": False})
    assert isinstance(item, FunctionCallOutputItem)
    assert item.success is False
    assert dump_item(item) == {"type": "function_call_output", "call_id": "c", "output": "x"}
    assert dump_item(item, storage=True)["success"] is False
    msg = parse_item({"type": "message", "id": "m", "role": "user", "content": []})
    assert dump_item(msg, storage=True) == {
        "type": "message",
        "id": "m",
        "role": "user",
        "content": [],
    }


def test_unknown_types_are_kept() -> None:
    other = parse_item({"type": "mcp_call", "id": "mcp_1", "arguments": {"a": [1, 2]}})
    assert isinstance(other, OtherItem)
    assert other.type == "mcp_call"
    assert dump_item(other) == {"type": "mcp_call", "id": "mcp_1", "arguments": {"a": [1, 2]}}
    msg = parse_item(
        {"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]}
    )
    assert isinstance(msg, MessageItem)
    assert isinstance(msg.content[0], OtherContent)
    ws = parse_item({"type": "web_search_call", "action": {"type": "new_action"}})
    assert isinstance(ws, WebSearchCallItem)
    assert isinstance(ws.action, OtherWebSearchAction)


@pytest.mark.parametrize(
    "data",
    [
        {"type": "message", "role": "user"},  # no content
        {"type": "message", "content": []},  # no role
        {"type": "function_call", "name": "f", "call_id": "c"},  # no arguments
        {"type": "function_call", "name": "f", "arguments": {"a": 1}, "call_id": "c"},  # not a string
        {"type": "function_call_output", "output": "x"},
        {"type": "local_shell_call", "call_id": "c", "status": "done",
         "action": {"type": "exec", "command": []}},
        {"type": "local_shell_call", "call_id": "c", "status": "completed"},
        {"type": "reasoning", "summary": [{"type": "bogus", "text": "x"}]},
        {"type": "web_search_call", "status": "in_progress"},  # A/B need an action
        {"type": "custom_tool_call", "name": "p", "input": "x"},
        {"type": "message", "role": "user", "content": [{"type": "input_text"}]},
        {"role": "user", "content": []},  # no type at all: Other needs one
    ],
)  # fmt: skip
def test_malformed_known_items_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse_item(data)


def test_spec_test_helper_items_parse() -> None:
    items = parse_items(
        [
            {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{}"},
            {"type": "local_shell_call", "call_id": "c2", "status": "completed",
             "action": {"type": "exec", "command": ["echo", "hi"]}},
            {"type": "custom_tool_call", "name": "apply_patch",
             "input": "*** Begin Patch\n*** End Patch", "call_id": "c3"},
        ]
    )  # fmt: skip
    assert [type(i) for i in items] == [FunctionCallItem, LocalShellCallItem, CustomToolCallItem]
    assert isinstance(items[2], CustomToolCallItem) and items[2].status is None


def test_reasoning_item_ids_default_to_empty() -> None:
    item = parse_item({"type": "reasoning", "summary": []})
    assert isinstance(item, ReasoningItem)
    assert (item.id, item.content, item.encrypted_content) == ("", None, None)


def test_dump_items_and_non_ascii() -> None:
    items = parse_items(
        [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "héllo ✓\u0007"}],
            }
        ]
    )
    assert compact(dump_items(items)) == (
        '[{"type":"message","role":"user","content":[{"type":"input_text","text":"héllo ✓\\u0007"}]}]'
    )
