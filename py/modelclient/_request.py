"""The ``POST /responses`` request: prompt, body, URL and headers (sans-IO).

Strategy: mirror version A's ``stream_responses`` (spec §7, §8, §9) as three pure
steps the client shell calls in order:

1. :func:`build_request` turns a :class:`Prompt` (this turn's input and tools) and
   :class:`ModelSettings` into a :class:`ResponsesApiRequest`, choosing
   ``reasoning`` / ``include`` / ``text`` / ``store`` per model family and provider;
2. :meth:`ResponsesApiRequest.to_payload` gives the JSON body exactly as serde
   writes it (``reasoning: null`` kept, ``prompt_cache_key``/``text`` left out
   when unset) and, for Azure (``store: true``), re-inserts item ids;
3. :func:`request_headers` and :meth:`ModelProviderInfo.responses_url` give the
   rest of the request.

Not ported, because a browser has no such tools: the ``apply_patch`` instruction
addendum of ``get_full_instructions`` and the shell-output rewrite of
``get_formatted_input``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from ._items import OtherItem, ResponseItem

__all__ = [
    "CHATGPT_BASE_URL",
    "DEFAULT_ORIGINATOR",
    "OPENAI_BASE_URL",
    "OUTPUT_SCHEMA_NAME",
    "FreeformTool",
    "FreeformToolFormat",
    "FunctionTool",
    "LocalShellTool",
    "ModelFamily",
    "ModelProviderInfo",
    "ModelSettings",
    "Prompt",
    "Reasoning",
    "ReasoningEffort",
    "ReasoningSummary",
    "ResponsesApiRequest",
    "TextControls",
    "TextFormat",
    "ToolSpec",
    "Verbosity",
    "WebSearchTool",
    "build_request",
    "find_family_for_model",
    "request_headers",
]

OPENAI_BASE_URL = "https://api.openai.com/v1"
CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/codex"
OUTPUT_SCHEMA_NAME = "codex_output_schema"  # wire value; the server only echoes it
DEFAULT_ORIGINATOR = "sidepy"  # Codex: "codex_cli_rs"
DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000
_RETRIES_CAP = 100

ReasoningEffort: TypeAlias = Literal["minimal", "low", "medium", "high"]
ReasoningSummary: TypeAlias = Literal["auto", "concise", "detailed", "none"]
Verbosity: TypeAlias = Literal["low", "medium", "high"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", serialize_by_alias=True, validate_by_name=True)


# ---------------------------------------------------------------------------
# Tools (spec §7.3)
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
# Request body (spec §7.2)
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
# Prompt, model family and settings (spec §7.1, §4.3)
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


@dataclass(frozen=True, slots=True)
class ModelFamily:
    """What the request builder needs to know about a model (A's ``ModelFamily``).

    Fields:
        slug: the model name as configured.
        family: the family name (``"gpt-5"`` for ``gpt-5-mini``; ``slug`` for codex).
        supports_reasoning_summaries: send ``reasoning`` (else ``null``).
    """

    slug: str
    family: str
    supports_reasoning_summaries: bool = False

    @property
    def supports_verbosity(self) -> bool:
        """A sends ``text.verbosity`` only to the ``gpt-5`` family."""
        return self.family == "gpt-5"


# A's `find_family_for_model`: first matching prefix wins; `None` = family is slug.
_FAMILIES: tuple[tuple[tuple[str, ...], str | None, bool], ...] = (
    (("o3",), "o3", True),
    (("o4-mini",), "o4-mini", True),
    (("codex-mini-latest",), "codex-mini-latest", True),
    (("gpt-4.1",), "gpt-4.1", False),
    (("gpt-oss", "openai/gpt-oss"), "gpt-oss", False),
    (("gpt-4o",), "gpt-4o", False),
    (("gpt-3.5",), "gpt-3.5", False),
    (("codex-", "gpt-5-codex"), None, True),
    (("gpt-5",), "gpt-5", True),
)


def find_family_for_model(slug: str) -> ModelFamily | None:
    """The known family of ``slug``, or ``None`` for an unknown model."""
    for prefixes, family, reasoning in _FAMILIES:
        if slug.startswith(prefixes):
            return ModelFamily(slug, family or slug, reasoning)
    return None


class ModelSettings(_Model):
    """Model choices of a conversation (A's config fields the request reads).

    Fields:
        model: the model slug, e.g. ``gpt-5``.
        reasoning_effort: ``model_reasoning_effort``; left out when unset.
        reasoning_summary: ``model_reasoning_summary`` (default ``auto``; ``none``
            leaves the key out, as Codex does since 2025-12-11).
        verbosity: ``model_verbosity``; sent only where the family allows it.
        supports_reasoning_summaries: overrides the family table (for models the
            table does not know, e.g. behind a compatible server).
    """

    model: str
    reasoning_effort: ReasoningEffort | None = None
    reasoning_summary: ReasoningSummary = "auto"
    verbosity: Verbosity | None = None
    supports_reasoning_summaries: bool | None = None

    def family(self) -> ModelFamily:
        """The model family, with the override applied; unknown models reason not."""
        found = find_family_for_model(self.model) or ModelFamily(self.model, self.model)
        if self.supports_reasoning_summaries is None:
            return found
        return ModelFamily(found.slug, found.family, self.supports_reasoning_summaries)


# ---------------------------------------------------------------------------
# Provider (spec §9, §8.1)
# ---------------------------------------------------------------------------

_AZURE_MARKERS = (
    "openai.azure.",
    "cognitiveservices.azure.",
    "aoai.azure.",
    "azure-api.",
    "azurefd.",
)


class ModelProviderInfo(_Model):
    """Where and how to reach a Responses API server (A's ``ModelProviderInfo``).

    Fields:
        name: display name; ``"azure"`` (any case) marks an Azure endpoint.
        base_url: overrides the default base URL.
        query_params: appended as ``?k=v&…`` (not URL-encoded, as Rust).
        http_headers: extra headers sent as is.
        organization, project: sent as ``OpenAI-Organization`` / ``OpenAI-Project``
            when non-blank (Codex reads them from environment variables).
        request_max_retries, stream_max_retries: budgets (defaults 4 / 5, cap 100).
        stream_idle_timeout_ms: idle timeout between SSE events (default 300 000).
        requires_openai_auth: the provider takes OpenAI (API key or ChatGPT) auth.
    """

    name: str = "OpenAI"
    base_url: str | None = None
    query_params: dict[str, str] | None = None
    http_headers: dict[str, str] | None = None
    organization: str | None = None
    project: str | None = None
    request_max_retries: int | None = None
    stream_max_retries: int | None = None
    stream_idle_timeout_ms: int | None = None
    requires_openai_auth: bool = False

    def is_azure_responses_endpoint(self) -> bool:
        """Name ``azure``, or a base URL on one of Azure's OpenAI hosts."""
        if self.name.lower() == "azure":
            return True
        base = (self.base_url or "").lower()
        return any(marker in base for marker in _AZURE_MARKERS)

    def responses_url(self, *, chatgpt_auth: bool = False) -> str:
        """``{base_url}/responses{?query}``; the default base depends on the auth."""
        default = CHATGPT_BASE_URL if chatgpt_auth else OPENAI_BASE_URL
        base = self.base_url if self.base_url is not None else default
        query = ""
        if self.query_params is not None:
            query = "?" + "&".join(f"{k}={v}" for k, v in self.query_params.items())
        return f"{base}/responses{query}"

    def effective_request_max_retries(self) -> int:
        """Configured value or 4, capped at 100."""
        value = 4 if self.request_max_retries is None else self.request_max_retries
        return min(value, _RETRIES_CAP)

    def effective_stream_max_retries(self) -> int:
        """Configured value or 5, capped at 100."""
        value = 5 if self.stream_max_retries is None else self.stream_max_retries
        return min(value, _RETRIES_CAP)

    def stream_idle_timeout(self) -> timedelta:
        """Configured idle timeout or 300 s."""
        ms = self.stream_idle_timeout_ms
        return timedelta(milliseconds=DEFAULT_STREAM_IDLE_TIMEOUT_MS if ms is None else ms)


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
    """The request A's ``stream_responses`` would send for ``prompt`` (spec §7.2).

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
    """The headers of a streaming ``POST /responses`` (spec §8.2, A minus the beta header).

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
