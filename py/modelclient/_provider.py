"""Where a request goes and what its model accepts (sans-IO).

Two kinds of settings the request builder (``_request``) reads:

* :class:`ModelProviderInfo` — the server: base URL, query, extra headers,
  Azure detection, retry budgets and idle timeout (A's ``ModelProviderInfo``,
  spec §9, §8.1);
* :class:`ModelSettings` and :class:`ModelFamily` — the model: its slug, the
  user's reasoning / verbosity choices, and A's family table that decides
  whether ``reasoning`` and ``text.verbosity`` are sent (spec §7.2).
"""

from __future__ import annotations

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

ReasoningEffort: TypeAlias = Literal["minimal", "low", "medium", "high"]
ReasoningSummary: TypeAlias = Literal["auto", "concise", "detailed", "none"]
Verbosity: TypeAlias = Literal["low", "medium", "high"]
#: How a provider is spoken to: ``POST /responses`` or ``POST /chat/completions``.
WireApi: TypeAlias = Literal["responses", "chat"]


class _Model(BaseModel):
    # The same configuration as `_request`'s request models.
    model_config = ConfigDict(extra="ignore", serialize_by_alias=True, validate_by_name=True)


# ---------------------------------------------------------------------------
# Model family and settings (spec §7.1, §7.2)
# ---------------------------------------------------------------------------


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
