"""The ``POST /responses`` request: prompt, body, URL and headers (sans-IO).

Strategy: mirror version A's ``stream_responses`` as three pure
steps the client shell calls in order:

1. :func:`build_request` turns a :class:`Prompt` (this turn's input and tools) and
   ``_provider``'s ``ModelSettings`` into a :class:`ResponsesApiRequest`, choosing
   ``reasoning`` / ``include`` / ``text`` / ``store`` per model family and provider;
2. :meth:`ResponsesApiRequest.to_payload` gives the JSON body exactly as serde
   writes it (``reasoning: null`` kept, ``prompt_cache_key``/``text`` left out
   when unset) and, for Azure (``store: true``), re-inserts item ids;
3. :func:`request_headers` and ``ModelProviderInfo.responses_url`` give the
   rest of the request.

Not ported, because a browser has no such tools: the ``apply_patch`` instruction
addendum of ``get_full_instructions`` and the shell-output rewrite of
``get_formatted_input``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from ._items import OtherItem, ResponseItem
from ._provider import ModelProviderInfo, ModelSettings, ReasoningEffort, ReasoningSummary, Verbosity

__all__ = [
    "DEFAULT_ORIGINATOR",
    "OUTPUT_SCHEMA_NAME",
    "FreeformTool",
    "FreeformToolFormat",
    "FunctionTool",
    "LocalShellTool",
    "Prompt",
    "Reasoning",
    "ResponsesApiRequest",
    "TextControls",
    "TextFormat",
    "ToolSpec",
    "WebSearchTool",
    "build_request",
    "request_headers",
]

OUTPUT_SCHEMA_NAME = "codex_output_schema"  # wire value; the server only echoes it
DEFAULT_ORIGINATOR = "sidepy"  # Codex: "codex_cli_rs"


class _Model(BaseModel):
    # The same configuration as `_provider`'s settings models.
    model_config = ConfigDict(extra="ignore", serialize_by_alias=True, validate_by_name=True)


# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------


class FunctionTool(_Model):
    """``{"type": "function", "name", "description", "strict", "parameters"}``."""

    type: Literal["function"] = "function"
    name: str
    description: str
    strict: bool = False
    parameters: dict[str, Any]


class LocalShellTool(_Model):
    """``{"type": "local_shell"}``."""

    type: Literal["local_shell"] = "local_shell"


class WebSearchTool(_Model):
    """``{"type": "web_search"}``."""

    type: Literal["web_search"] = "web_search"


class FreeformToolFormat(_Model):
    """A freeform tool's input grammar: ``{"type", "syntax", "definition"}``."""

    type: str
    syntax: str
    definition: str


class FreeformTool(_Model):
    """``{"type": "custom", "name", "description", "format"}`` (e.g. a lark grammar)."""

    type: Literal["custom"] = "custom"
    name: str
    description: str
    format: FreeformToolFormat


ToolSpec: TypeAlias = Annotated[
    FunctionTool | LocalShellTool | WebSearchTool | FreeformTool, Field(discriminator="type")
]


# ---------------------------------------------------------------------------
# Request body
# ---------------------------------------------------------------------------


class Reasoning(_Model):
    """``{"effort"?, "summary"?}``; unset keys are left out."""

    effort: ReasoningEffort | None = Field(default=None, exclude_if=lambda v: v is None)
    summary: ReasoningSummary | None = Field(default=None, exclude_if=lambda v: v is None)


class TextFormat(_Model):
    """``{"type": "json_schema", "strict", "schema", "name"}`` (structured output)."""

    type: Literal["json_schema"] = "json_schema"
    strict: bool = True
    schema_: dict[str, Any] = Field(alias="schema")
    name: str = OUTPUT_SCHEMA_NAME


class TextControls(_Model):
    """``{"verbosity"?, "format"?}``; unset keys are left out."""

    verbosity: Verbosity | None = Field(default=None, exclude_if=lambda v: v is None)
    format: TextFormat | None = Field(default=None, exclude_if=lambda v: v is None)


class ResponsesApiRequest(_Model):
    """The JSON body of ``POST {base_url}/responses``, fields in Rust's order.

    ``reasoning`` is always present (``null`` when the model lacks reasoning
    summaries); ``prompt_cache_key`` and ``text`` are left out when ``None``.
    """

    model: str
    instructions: str
    input: list[ResponseItem]
    tools: list[ToolSpec] = Field(default_factory=list)
    tool_choice: Literal["auto"] = "auto"
    parallel_tool_calls: bool = False
    reasoning: Reasoning | None = None
    store: bool = False
    stream: bool = True
    include: list[str] = Field(default_factory=list)
    prompt_cache_key: str | None = Field(default=None, exclude_if=lambda v: v is None)
    text: TextControls | None = Field(default=None, exclude_if=lambda v: v is None)

    def to_payload(self) -> dict[str, Any]:
        """The body as a JSON-ready dict; with ``store`` (Azure) item ids re-inserted.

        Azure rejects ``store: false`` and, with ``store: true``, wants the ids of
        earlier items (A's ``attach_item_ids``): every reasoning item with a
        non-empty id, and message / web search / function / local shell / custom
        tool calls whose id is set and non-empty. The id goes last in the object.
        """
        payload = self.model_dump(mode="json")  # items dump in their wire shape
        if self.store:
            for obj, item in zip(payload["input"], self.input, strict=True):
                item_id = getattr(item, "id", None)
                if isinstance(item, OtherItem) or not isinstance(item_id, str):
                    continue
                if item_id:
                    obj["id"] = item_id
        return payload


# ---------------------------------------------------------------------------
# Prompt
# ---------------------------------------------------------------------------


class Prompt(_Model):
    """One turn's request material (A's ``Prompt``).

    Fields:
        input: the whole conversation history sent this turn.
        tools: the tools offered to the model.
        parallel_tool_calls: whether the model may call several tools at once.
        base_instructions_override: replaces the default instructions when set
            (even to ``""``).
        output_schema: a JSON Schema the final answer must follow.
    """

    input: list[ResponseItem] = Field(default_factory=list)
    tools: list[ToolSpec] = Field(default_factory=list)
    parallel_tool_calls: bool = False
    base_instructions_override: str | None = None
    output_schema: dict[str, Any] | None = None

    def full_instructions(self, base_instructions: str) -> str:
        """The override if set, else ``base_instructions`` (``get_full_instructions``)."""
        if self.base_instructions_override is not None:
            return self.base_instructions_override
        return base_instructions


# ---------------------------------------------------------------------------
# Building the request
# ---------------------------------------------------------------------------


def build_request(
    prompt: Prompt,
    settings: ModelSettings,
    *,
    base_instructions: str,
    conversation_id: str | None,
    provider: ModelProviderInfo | None = None,
) -> ResponsesApiRequest:
    """The request A's ``stream_responses`` would send for ``prompt``.

    - ``reasoning``: ``{effort?, summary?}`` when the family supports reasoning
      summaries (``summary`` left out for ``none``, the later fix), else ``null``; ``include`` then asks for
      ``reasoning.encrypted_content`` (and is ``[]`` otherwise).
    - ``text``: verbosity (``gpt-5`` family only) and/or the output schema.
    - ``store``: ``true`` only for Azure, which rejects ``false``.
    - ``prompt_cache_key``: the conversation id.
    - ``input``: the prompt's items minus :class:`OtherItem` (never sent by Codex).
    """
    family = settings.family()
    reasoning = None
    if family.supports_reasoning_summaries:
        # A sent summary "none" verbatim; since 0af7e4a1 (2025-12-11) it is left out.
        summary = None if settings.reasoning_summary == "none" else settings.reasoning_summary
        reasoning = Reasoning(effort=settings.reasoning_effort, summary=summary)
    verbosity = settings.verbosity if family.supports_verbosity else None
    text = None
    if verbosity is not None or prompt.output_schema is not None:
        text = TextControls(
            verbosity=verbosity,
            format=None if prompt.output_schema is None else TextFormat(schema_=prompt.output_schema),
        )
    azure = provider is not None and provider.is_azure_responses_endpoint()
    return ResponsesApiRequest(
        model=settings.model,
        instructions=prompt.full_instructions(base_instructions),
        input=[item for item in prompt.input if not isinstance(item, OtherItem)],
        tools=list(prompt.tools),
        parallel_tool_calls=prompt.parallel_tool_calls,
        reasoning=reasoning,
        store=azure,
        stream=True,
        include=["reasoning.encrypted_content"] if reasoning is not None else [],
        prompt_cache_key=conversation_id,
        text=text,
    )


def _header_safe(value: str) -> bool:
    return bool(value) and all(" " <= c <= "~" or c == "\t" for c in value)


def request_headers(
    conversation_id: str,
    *,
    provider: ModelProviderInfo | None = None,
    bearer_token: str | None = None,
    chatgpt_account_id: str | None = None,
    originator: str = DEFAULT_ORIGINATOR,
    user_agent: str | None = None,
) -> dict[str, str]:
    """The headers of a streaming ``POST /responses`` (A minus the beta header).

    Args:
        conversation_id: sent as both ``conversation_id`` and ``session_id`` (A/B).
        provider: adds its ``http_headers`` and ``OpenAI-Organization`` /
            ``OpenAI-Project`` when non-blank.
        bearer_token: the API key or ChatGPT access token (``Authorization``).
        chatgpt_account_id: with ChatGPT auth, ``chatgpt-account-id``.
        originator: client id for the backend; an invalid header value falls
            back to the default, as Codex's does.
        user_agent: sent when given (a browser may refuse to set it).
    """
    headers: dict[str, str] = {}
    if bearer_token:
        headers["Authorization"] = f"Bearer {bearer_token}"
    if provider is not None:
        headers.update(provider.http_headers or {})
        for name, value in (
            ("OpenAI-Organization", provider.organization),
            ("OpenAI-Project", provider.project),
        ):
            if value is not None and value.strip():
                headers[name] = value
    headers["conversation_id"] = conversation_id
    headers["session_id"] = conversation_id
    headers["Accept"] = "text/event-stream"
    if chatgpt_account_id:
        headers["chatgpt-account-id"] = chatgpt_account_id
    headers["originator"] = originator if _header_safe(originator) else DEFAULT_ORIGINATOR
    if user_agent:
        headers["User-Agent"] = user_agent
    headers["Content-Type"] = "application/json"
    return headers
