"""Where a request goes and what its model accepts (sans-IO).

Two kinds of settings the request builder (``_request``) reads:

* :class:`ModelProviderInfo` — the server: base URL, query, extra headers,
  Azure detection, retry budgets, connect and idle timeouts (A's
  ``ModelProviderInfo``);
* :class:`ModelSettings` and :class:`ModelFamily` — the model: its slug, the
  user's reasoning / verbosity choices, and the family table that decides
  whether ``reasoning`` and ``text.verbosity`` are sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, TypeAlias

from pydantic import BaseModel, ConfigDict

__all__ = [
    "CHATGPT_BASE_URL",
    "OPENAI_BASE_URL",
    "ModelFamily",
    "ModelProviderInfo",
    "ModelSettings",
    "ReasoningEffort",
    "ReasoningSummary",
    "Verbosity",
    "WireApi",
    "find_family_for_model",
]

OPENAI_BASE_URL = "https://api.openai.com/v1"
CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/codex"
DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000
_RETRIES_CAP = 100

ReasoningEffort: TypeAlias = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
"""A's four efforts, plus C's ``none`` (gpt-5.1 and later) and ``xhigh`` (codex-max and later)."""
ReasoningSummary: TypeAlias = Literal["auto", "concise", "detailed", "none"]
Verbosity: TypeAlias = Literal["low", "medium", "high"]
#: How a provider is spoken to: ``POST /responses`` or ``POST /chat/completions``.
WireApi: TypeAlias = Literal["responses", "chat"]


class _Model(BaseModel):
    # The same configuration as `_request`'s request models.
    model_config = ConfigDict(extra="ignore", serialize_by_alias=True, validate_by_name=True)


# ---------------------------------------------------------------------------
# Model family and settings
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelFamily:
    """What the request builder needs to know about a model (Rust's ``ModelFamily``).

    Fields:
        slug: the model name as configured.
        family: the family name (``"gpt-5"`` for ``gpt-5-mini``; ``slug`` for codex).
        supports_reasoning_summaries: send ``reasoning`` (else ``null``).
        supports_verbosity: send ``text.verbosity`` when the user set one.
    """

    slug: str
    family: str
    supports_reasoning_summaries: bool = False
    supports_verbosity: bool = False


# The family table, first match wins. A's prefixes, then what later Codex added
# for the gpt-5.x line: every `gpt-5.N-codex…` (codex-max included) is a codex
# model (its own family, reasoning, no verbosity), every other `gpt-5.N…` is the
# family `gpt-5.N` with reasoning and verbosity. A pattern instead of Codex's
# one branch per release keeps the next `gpt-5.N` working without a code change.
_FAMILIES: tuple[tuple[re.Pattern[str], str | None, bool, bool], ...] = tuple(
    (re.compile(pattern), family, reasoning, verbosity)
    for pattern, family, reasoning, verbosity in (
        (r"o3", "o3", True, False),
        (r"o4-mini", "o4-mini", True, False),
        (r"codex-mini-latest", "codex-mini-latest", True, False),
        (r"gpt-4\.1", "gpt-4.1", False, False),
        (r"(?:openai/)?gpt-oss", "gpt-oss", False, False),
        (r"gpt-4o", "gpt-4o", False, False),
        (r"gpt-3\.5", "gpt-3.5", False, False),
        (r"codex-|gpt-5(?:\.[0-9]+)?-codex", None, True, False),
        (r"gpt-5\.[0-9]+", "", True, True),  # "" = the matched `gpt-5.N`
        (r"gpt-5", "gpt-5", True, True),
    )
)


def find_family_for_model(slug: str) -> ModelFamily | None:
    """The known family of ``slug``, or ``None`` for an unknown model."""
    for pattern, family, reasoning, verbosity in _FAMILIES:
        match = pattern.match(slug)
        if match:
            name = slug if family is None else family or match.group(0)
            return ModelFamily(slug, name, reasoning, verbosity)
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
        return ModelFamily(
            found.slug, found.family, self.supports_reasoning_summaries, found.supports_verbosity
        )


# ---------------------------------------------------------------------------
# Provider
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
        connect_timeout_ms: how long one attempt may wait for the response
            headers, connect included (ours; Rust waits forever). Default: the
            idle timeout, the longest silence tolerated once the body flows.
        requires_openai_auth: the provider takes OpenAI (API key or ChatGPT) auth.
        wire_api: ``"responses"`` (the default) or ``"chat"`` for a server that
            only offers Chat Completions (``_chat_request``, ``_chat_stream``).
        chat_include_usage: on the chat wire, send ``stream_options.include_usage``
            (off for a server that refuses the field and reports usage anyway).
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
    connect_timeout_ms: int | None = None
    requires_openai_auth: bool = False
    wire_api: WireApi = "responses"
    chat_include_usage: bool = True

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

    def chat_completions_url(self) -> str:
        """``{base_url}/chat/completions{?query}`` (the default base is OpenAI's)."""
        return self._url("chat/completions", OPENAI_BASE_URL)

    def models_url(self) -> str:
        """``{base_url}/models{?query}``: the model list both wire APIs' servers offer."""
        return self._url("models", OPENAI_BASE_URL)

    def stream_url(self, *, chatgpt_auth: bool = False) -> str:
        """Where a turn is posted: the URL of the provider's ``wire_api``."""
        if self.wire_api == "chat":
            return self.chat_completions_url()
        return self.responses_url(chatgpt_auth=chatgpt_auth)

    def _url(self, path: str, default_base: str) -> str:
        base = self.base_url if self.base_url is not None else default_base
        query = ""
        if self.query_params is not None:
            query = "?" + "&".join(f"{k}={v}" for k, v in self.query_params.items())
        return f"{base}/{path}{query}"

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

    def connect_timeout(self) -> timedelta:
        """Configured connect (response headers) timeout, else the idle timeout."""
        if self.connect_timeout_ms is None:
            return self.stream_idle_timeout()
        return timedelta(milliseconds=self.connect_timeout_ms)
