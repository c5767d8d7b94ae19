"""The providers SidePy knows, what each needs, and what to say when one fails (sans-IO).

Codex ships two built-in providers (``openai`` and the local ``oss`` one);
a browser user already has accounts elsewhere. Each :class:`ProviderPreset`
says what a user must bring — a base URL only where it is theirs (Azure's
resource, a custom server), a key where the service wants one — and how to talk
to it: the wire API (``None``: detected, see ``_wire_detect``) and the
Chat-wire quirks.

:func:`explain_failure` turns a failed request into the sentence a user can act on,
knowing the provider: which local server is not running and how to start it,
Ollama's origin check (``OLLAMA_ORIGINS``), a model the server does not have
(with the models it does have). It returns ``None`` when it has nothing better
than the error's own text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias
from urllib.parse import urlsplit

from ._error_base import ModelClientError
from ._errors import (
    ConnectionFailedError,
    InvalidRequestError,
    UnauthorizedError,
    UnexpectedStatusError,
)
from ._provider import ModelProviderInfo, ReasoningEffort, WireApi, find_family_for_model

__all__ = [
    "PRESETS",
    "FailureAdvice",
    "FailureReason",
    "KeyNeed",
    "ProviderPreset",
    "advise_failure",
    "explain_failure",
    "find_preset",
    "guess_preset",
    "reasoning_efforts",
]

KeyNeed: TypeAlias = Literal["required", "optional", "none"]
#: What an advised failure is about, so an app can offer the one action that fixes it.
FailureReason: TypeAlias = Literal[
    "not_running", "unreachable", "needs_key", "bad_key", "origins", "unknown_model", "wrong_url"
]


@dataclass(frozen=True, slots=True)
class ProviderPreset:
    """One provider a user can pick.

    Fields:
        id: stable id, stored with a saved provider.
        label: the name shown.
        base_url: the API base; ``""`` when the user must type it (``base_url_example`` shows how).
        wire_api: ``"responses"`` / ``"chat"``; ``None`` to detect it.
        key: ``required``, ``optional`` (a server started with a key), or ``none``.
        key_where: where to get a key, in words.
        local: a server on the user's machine (a refused connection means "not running").
        start: how to start the local server.
        default_model: the model to start with before the server's list arrives.
        chat_include_usage: ``ModelProviderInfo.chat_include_usage``.
        paid: a test request costs the user money (Test connection asks first).
        base_url_example: a base URL to show as the field's example.
    """

    id: str
    label: str
    base_url: str
    wire_api: WireApi | None
    key: KeyNeed
    key_where: str = ""
    local: bool = False
    start: str = ""
    default_model: str = ""
    chat_include_usage: bool = True
    paid: bool = True
    base_url_example: str = ""

    def provider_info(self, base_url: str | None = None, *, wire_api: WireApi | None = None,
                      **options: object) -> ModelProviderInfo:
        """The ``ModelProviderInfo`` for this preset (``base_url`` / ``wire_api`` override it)."""
        wire = wire_api or self.wire_api or "responses"
        return ModelProviderInfo.model_validate({
            "name": "azure" if self.id == "azure" else self.label,
            "base_url": base_url or self.base_url or None,
            "wire_api": wire,
            "chat_include_usage": self.chat_include_usage,
            **options,
        })


PRESETS: tuple[ProviderPreset, ...] = (
    ProviderPreset("openai", "OpenAI", "https://api.openai.com/v1", "responses", "required",
                   "platform.openai.com → API keys", default_model="gpt-5-mini"),
    ProviderPreset("azure", "Azure OpenAI", "", "responses", "required",
                   "Azure portal → your OpenAI resource → Keys and Endpoint", default_model="gpt-4.1-mini",
                   base_url_example="https://YOUR-RESOURCE.openai.azure.com/openai/v1"),
    ProviderPreset("openrouter", "OpenRouter", "https://openrouter.ai/api/v1", "chat", "required",
                   "openrouter.ai → Keys", default_model="openai/gpt-4o-mini"),
    ProviderPreset("groq", "Groq", "https://api.groq.com/openai/v1", "chat", "required",
                   "console.groq.com → API Keys", default_model="llama-3.3-70b-versatile"),
    ProviderPreset("deepseek", "DeepSeek", "https://api.deepseek.com/v1", "chat", "required",
                   "platform.deepseek.com → API keys", default_model="deepseek-chat"),
    # Mistral documents no `stream_options` and sends usage in its last chunk anyway.
    ProviderPreset("mistral", "Mistral", "https://api.mistral.ai/v1", "chat", "required",
                   "console.mistral.ai → API Keys", default_model="mistral-small-latest",
                   chat_include_usage=False),
    ProviderPreset("gemini", "Gemini (OpenAI-compatible)",
                   "https://generativelanguage.googleapis.com/v1beta/openai", "chat", "required",
                   "aistudio.google.com → Get API key", default_model="gemini-2.5-flash"),
    ProviderPreset("ollama", "Ollama", "http://localhost:11434/v1", "chat", "none", local=True,
                   start="start Ollama (the app, or `ollama serve` in a terminal)", default_model="llama3.2",
                   paid=False),
    ProviderPreset("lmstudio", "LM Studio", "http://localhost:1234/v1", "chat", "none", local=True,
                   start="in LM Studio, start the server (Developer tab, or `lms server start`)",
                   paid=False),
    ProviderPreset("llamacpp", "llama.cpp server", "http://localhost:8080/v1", "chat", "optional", local=True,
                   start="run `llama-server -m your-model.gguf --port 8080`", paid=False),
    ProviderPreset("vllm", "vLLM", "http://localhost:8000/v1", "chat", "optional", local=True,
                   start="run `vllm serve <model>`", paid=False),
    ProviderPreset("custom", "Custom (any OpenAI-compatible server)", "", None, "optional",
                   base_url_example="https://host/v1"),
)  # fmt: skip

_BY_ID = {preset.id: preset for preset in PRESETS}
# Hosts (and local ports) that identify a preset when a user pastes a URL.
_HOSTS = {
    "api.openai.com": "openai", "openrouter.ai": "openrouter", "api.groq.com": "groq",
    "api.deepseek.com": "deepseek", "api.mistral.ai": "mistral",
    "generativelanguage.googleapis.com": "gemini",
}  # fmt: skip
_LOCAL_PORTS = {11434: "ollama", 1234: "lmstudio", 8080: "llamacpp", 8000: "vllm"}
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")


def find_preset(preset_id: str) -> ProviderPreset:
    """The preset with this id; an unknown id is the custom one."""
    return _BY_ID.get(preset_id, _BY_ID["custom"])


def guess_preset(base_url: str) -> ProviderPreset:
    """The preset a pasted base URL belongs to (by host, or a local server's usual port)."""
    parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
    host = (parts.hostname or "").lower()
    if host in _HOSTS:
        return _BY_ID[_HOSTS[host]]
    if host.endswith((".openai.azure.com", ".cognitiveservices.azure.com")):
        return _BY_ID["azure"]
    try:
        port = parts.port
    except ValueError:
        port = None
    if (host in _LOCAL_HOSTS or host.endswith(".localhost")) and port in _LOCAL_PORTS:
        return _BY_ID[_LOCAL_PORTS[port]]
    return _BY_ID["custom"]


_GPT5_RELEASE = re.compile(r"gpt-5\.([0-9]+)")


def reasoning_efforts(model: str) -> tuple[ReasoningEffort, ...]:
    """The reasoning efforts ``model`` takes, ``()`` for a model that takes none.

    From the family table (``_provider``), reading through a router's vendor
    prefix (OpenRouter's ``openai/o4-mini``): the ``gpt-5`` family takes
    ``minimal`` to ``high``; ``gpt-5.1`` and later take ``none`` instead of
    ``minimal``, and from ``gpt-5.2`` on also ``xhigh``; codex models take low /
    medium / high, ``xhigh`` from codex-max (and every ``gpt-5.N-codex`` after it)
    on; o-series and ``gpt-oss`` models take low / medium / high.
    """
    slug = model.rsplit("/", 1)[-1]
    family = find_family_for_model(slug)
    if slug.startswith("gpt-oss"):
        return ("low", "medium", "high")
    if family is None:
        return ()
    if family.family == "gpt-5":
        return ("minimal", "low", "medium", "high")
    release = _GPT5_RELEASE.match(slug)
    minor = int(release.group(1)) if release else 0
    if "codex" in slug:
        takes_xhigh = "codex-max" in slug or minor >= 2
        return ("low", "medium", "high", "xhigh") if takes_xhigh else ("low", "medium", "high")
    if release:
        return ("none", "low", "medium", "high", "xhigh") if minor >= 2 else ("none", "low", "medium", "high")
    if family.supports_reasoning_summaries:
        return ("low", "medium", "high")
    return ()


# ---------------------------------------------------------------------------
# Sentences
# ---------------------------------------------------------------------------

_MODEL_MISSING = re.compile(
    r"model[^.]*?(not found|does not exist|not exist|is not available|not supported|no such|unknown)"
    r"|(invalid|unknown|no such) model|model_not_found",
    re.IGNORECASE,
)
_LISTED = 12


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def _model_missing(error: ModelClientError) -> bool:
    if isinstance(error, UnexpectedStatusError) and error.status in (400, 404, 422):
        return bool(_MODEL_MISSING.search(error.body))
    if isinstance(error, InvalidRequestError):
        return bool(_MODEL_MISSING.search(f"{error} {error.body}"))
    return False


def _some(models: Sequence[str]) -> str:
    shown = ", ".join(models[:_LISTED])
    more = len(models) - _LISTED
    return f"{shown} and {more} more" if more > 0 else shown


@dataclass(frozen=True, slots=True)
class FailureAdvice:
    """What :func:`advise_failure` says: the sentence, and what it is about (``reason``)."""

    reason: FailureReason
    text: str


def explain_failure(
    error: ModelClientError,
    preset: ProviderPreset,
    base_url: str,
    *,
    model: str = "",
    models: Sequence[str] = (),
    extension_origin: str = "",
    has_key: bool = True,
) -> str | None:
    """The sentence of :func:`advise_failure`, or ``None``."""
    advice = advise_failure(error, preset, base_url, model=model, models=models,
                            extension_origin=extension_origin, has_key=has_key)
    return advice.text if advice is not None else None


def advise_failure(
    error: ModelClientError,
    preset: ProviderPreset,
    base_url: str,
    *,
    model: str = "",
    models: Sequence[str] = (),
    extension_origin: str = "",
    has_key: bool = True,
) -> FailureAdvice | None:
    """A sentence for ``error`` that names the provider and the fix, or ``None``.

    Args:
        error: what the request raised.
        preset: the provider it was sent to.
        base_url: the base URL it was sent to.
        model: the model asked for.
        models: the models the server listed, if known (an ``unknown_model`` advice
            without them says to refresh the list: ask the server, then advise again).
        extension_origin: ``chrome-extension://<id>``, for Ollama's origin setting.
        has_key: whether a key was sent.
    """
    where = _origin(base_url)
    label = preset.label if preset.id != "custom" else f"The server at {where}"
    if isinstance(error, ConnectionFailedError):
        if preset.local:
            return FailureAdvice("not_running",
                                 f"{preset.label} is not running at {where}: {preset.start}, then try again.")
        return FailureAdvice("unreachable",
                             f"Could not connect to {where}: check the base URL and your network.")
    if isinstance(error, UnauthorizedError):
        if not has_key and preset.key != "none":
            where_to = f" (get one at {preset.key_where})" if preset.key_where else ""
            return FailureAdvice("needs_key", f"{label} needs an API key: add it in Settings{where_to}.")
        return FailureAdvice("bad_key", f"{label} refused the API key (HTTP 401): paste the whole key "
                                        "again, for this provider.")
    if isinstance(error, UnexpectedStatusError) and error.status == 403 and preset.id == "ollama":
        origin = extension_origin or "chrome-extension://*"
        return FailureAdvice("origins", (
            f"Ollama refused the request from the extension (HTTP 403). Allow its origin: set "
            f"OLLAMA_ORIGINS={origin} in Ollama's environment (for the app: `launchctl setenv` on "
            f"macOS, a user environment variable on Windows, `systemctl edit ollama` on Linux), then "
            f"restart Ollama."
        ))
    if model and _model_missing(error):
        pull = f" or run `ollama pull {model}`" if preset.id == "ollama" else ""
        if models:
            return FailureAdvice("unknown_model", f"{label} has no model “{model}”. It has: {_some(models)}. "
                                                  f"Pick one in the model list{pull}.")
        return FailureAdvice("unknown_model", f"{label} has no model “{model}”: refresh the model list and "
                                              f"pick one it has{pull}.")
    if (
        isinstance(error, UnexpectedStatusError)
        and error.status in (404, 405)
        and preset.wire_api is not None
    ):
        path = "chat/completions" if preset.wire_api == "chat" else "responses"
        return FailureAdvice("wrong_url", (
            f"Nothing answers at {base_url.rstrip('/')}/{path} (HTTP {error.status}): check the base URL"
            + (f"; for {preset.label} it is {preset.base_url}." if preset.base_url else ".")
        ))
    return None
