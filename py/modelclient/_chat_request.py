"""The ``POST /chat/completions`` request built from a :class:`Prompt` (sans-IO).

The Chat Completions wire API (Codex's ``WireApi::Chat``) sends the same turn
as the Responses one, in the older shape most OpenAI-compatible servers speak
(DeepSeek, Mistral, Groq, Gemini's compatible endpoint, Ollama, LM Studio,
llama.cpp, vLLM, LiteLLM …). :func:`build_chat_request` maps the prompt:

* the instructions become the first message, ``{"role": "system"}``;
* each ``message`` item becomes a message of its role (``developer`` is sent
  as ``system``, which every server knows). Text parts are joined; a message
  with an image is sent as content parts (``text`` / ``image_url``);
* function, custom-tool and local-shell calls become ``tool_calls`` of an
  assistant message — consecutive calls, and the assistant text just before
  them, share one message, because a server wants every ``tool`` answer to
  follow the one assistant message that made the calls;
* call outputs become ``{"role": "tool", "tool_call_id", "content"}``;
* reasoning and web-search items are left out (servers differ on whether
  they accept reasoning back, and web search is a Responses-only tool);
* ``function`` tools become ``{"type": "function", "function": {...}}``; other
  tools have no Chat Completions form and are left out;
* ``stream_options.include_usage`` asks for the usage chunk that ends the stream
  (unless the provider turns it off: Mistral documents no such field and sends
  usage in its last chunk anyway).

Only fields every compatible server accepts are sent unconditionally
(``model``, ``messages``, ``stream``, ``stream_options``); the rest appear
only when the prompt or settings call for them, since strict servers reject
unknown or empty fields (``tools: []`` is a 400 at OpenAI).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ._items import (
    CustomToolCallItem,
    CustomToolCallOutputItem,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputImage,
    InputText,
    LocalShellCallItem,
    MessageItem,
    OutputText,
    ResponseItem,
)
from ._presets import reasoning_efforts
from ._provider import ModelProviderInfo, ModelSettings, ReasoningEffort, Verbosity
from ._request import OUTPUT_SCHEMA_NAME, FunctionTool, Prompt, ToolSpec

__all__ = ["ChatCompletionsRequest", "build_chat_request", "chat_messages", "chat_tools"]

JsonObject = dict[str, Any]

#: The function name a ``local_shell_call`` is replayed under (Chat has no such tool type).
LOCAL_SHELL_FUNCTION = "local_shell"


def _omit_none() -> Any:
    return Field(default=None, exclude_if=lambda v: v is None)


class ChatCompletionsRequest(BaseModel):
    """The JSON body of ``POST {base_url}/chat/completions``.

    ``messages`` and ``tools`` are kept as JSON objects: they are built here in
    their wire shape and only ever serialised.
    """

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[JsonObject]
    stream: bool = True
    stream_options: JsonObject | None = Field(
        default_factory=lambda: {"include_usage": True}, exclude_if=lambda v: v is None
    )
    tools: list[JsonObject] | None = _omit_none()
    parallel_tool_calls: bool | None = _omit_none()
    reasoning_effort: ReasoningEffort | None = _omit_none()
    verbosity: Verbosity | None = _omit_none()
    response_format: JsonObject | None = _omit_none()

    def to_payload(self) -> dict[str, Any]:
        """The body as a JSON-ready dict."""
        return self.model_dump(mode="json")


def build_chat_request(
    prompt: Prompt,
    settings: ModelSettings,
    *,
    base_instructions: str,
    provider: ModelProviderInfo | None = None,
) -> ChatCompletionsRequest:
    """The Chat Completions request for ``prompt`` (see the module docstring).

    - ``reasoning_effort``: the user's effort, for a model that takes it
      (``reasoning_efforts``, which reads through a router's ``vendor/`` prefix,
      or ``supports_reasoning_summaries``).
    - ``verbosity``: the ``gpt-5`` family only, as on the Responses wire.
    - ``response_format``: the output schema as ``json_schema`` (Codex refused
      a schema on this wire; the Chat API has had the field since 2024).
    - ``tools`` / ``parallel_tool_calls``: only when a function tool survives.
    - ``stream_options``: left out when the provider says ``chat_include_usage=False``.
    """
    family = settings.family()
    include_usage = provider is None or provider.chat_include_usage
    effort = settings.reasoning_effort
    if not (family.supports_reasoning_summaries or effort in reasoning_efforts(settings.model)):
        effort = None
    tools = chat_tools(prompt.tools)
    response_format = None
    if prompt.output_schema is not None:
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": OUTPUT_SCHEMA_NAME, "schema": prompt.output_schema, "strict": True},
        }
    return ChatCompletionsRequest(
        model=settings.model,
        messages=chat_messages(prompt.input, prompt.full_instructions(base_instructions)),
        tools=tools or None,
        parallel_tool_calls=prompt.parallel_tool_calls if tools else None,
        reasoning_effort=effort,
        verbosity=settings.verbosity if family.supports_verbosity else None,
        response_format=response_format,
        stream_options={"include_usage": True} if include_usage else None,
    )


def chat_tools(tools: list[ToolSpec]) -> list[JsonObject]:
    """The ``function`` tools in Chat's nested shape; every other kind is dropped."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
                "strict": tool.strict,
            },
        }
        for tool in tools
        if isinstance(tool, FunctionTool)
    ]


def chat_messages(items: list[ResponseItem], instructions: str) -> list[JsonObject]:
    """The ``messages`` array: the system message, then one entry per sendable item.

    An empty ``instructions`` sends no system message (some chat templates
    refuse an empty one).
    """
    messages: list[JsonObject] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    for item in items:
        if isinstance(item, MessageItem):
            message = _message(item)
            if message is not None:
                messages.append(message)
        elif isinstance(item, FunctionCallItem):
            _add_tool_call(
                messages,
                {
                    "id": item.call_id,
                    "type": "function",
                    "function": {"name": item.name, "arguments": item.arguments},
                },
            )
        elif isinstance(item, CustomToolCallItem):
            _add_tool_call(
                messages,
                {
                    "id": item.call_id,
                    "type": "custom",
                    "custom": {"name": item.name, "input": item.input},
                },
            )
        elif isinstance(item, LocalShellCallItem):
            _add_tool_call(
                messages,
                {
                    "id": item.call_id or item.id or "",
                    "type": "function",
                    "function": {
                        "name": LOCAL_SHELL_FUNCTION,
                        "arguments": json.dumps(item.action.model_dump(mode="json"), separators=(",", ":")),
                    },
                },
            )
        elif isinstance(item, FunctionCallOutputItem):
            output = _tool_output(item.output)
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": output})
        elif isinstance(item, CustomToolCallOutputItem):
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": item.output})
        # Reasoning, web search calls and unknown items have no Chat form.
    return messages


def _message(item: MessageItem) -> JsonObject | None:
    """One ``message`` item as a chat message, or ``None`` when it carries nothing sendable."""
    role = "system" if item.role == "developer" else item.role
    texts = [part.text for part in item.content if isinstance(part, InputText | OutputText)]
    images = [part.image_url for part in item.content if isinstance(part, InputImage)]
    if role == "assistant":
        # The model's own text parts are pieces of one answer: joined as they are.
        text = "".join(texts)
        return {"role": "assistant", "content": text} if text else None
    if images:
        parts: list[JsonObject] = []
        for part in item.content:
            if isinstance(part, InputText | OutputText):
                parts.append({"type": "text", "text": part.text})
            elif isinstance(part, InputImage):
                parts.append({"type": "image_url", "image_url": {"url": part.image_url}})
        return {"role": role, "content": parts}
    if not texts:
        return None
    # Separate parts (the page's context, then what the user typed) stay apart.
    return {"role": role, "content": "\n\n".join(texts)}


def _add_tool_call(messages: list[JsonObject], call: JsonObject) -> None:
    """Attach ``call`` to the assistant message just before, or start one."""
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant":
        last.setdefault("tool_calls", []).append(call)
        return
    messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _tool_output(output: str | list[Any]) -> str:
    """A call's output as the ``tool`` message's text (Chat's tool messages take text only)."""
    if isinstance(output, str):
        return output
    texts = [part.text for part in output if isinstance(part, InputText | OutputText)]
    return "\n\n".join(texts)
