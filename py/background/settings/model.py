"""Settings: provider, model and request options; the API key's source.

:class:`Settings` is stored under ``settings`` as one record, so a save is one
``chrome.storage.local.set`` call: atomic. ``settings.set`` sends a *patch*; it
is merged into the current settings and the whole result is validated before
anything is written, so a bad field never leaves half-saved settings. Errors come
back per field (``{"base_url": "…"}``) in words a user can act on.

Base URLs are normalised: users paste either a base (``https://api.openai.com/v1``)
or the full endpoint (``https://host/v1/responses?api-version=…``, or
``…/chat/completions``, which also says the server speaks Chat Completions); we keep
the base and the query apart and show the exact ``request_url``.

The provider is one of modelclient's presets (``preset``; ``provider`` follows
from it: ``openai``, ``azure``, or ``compatible`` for every other server), spoken
to over its wire API (:attr:`Settings.wire`): the user's choice, the preset's, or
what Test connection detected. Other saved providers wait in ``profiles``
(:mod:`background.settings.profiles`).

The API key is not a setting: it comes from a :class:`KeySource` (the encrypted
vault in the worker: :class:`background.vault.handlers.VaultKeySource`), with the
origins the user approved it for (:mod:`background.settings.credentials`). The
key never goes to a page: views carry ``key: {set, masked, origin, approved}`` only.

Plain ``http://`` is accepted only for this machine (:func:`is_loopback`).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import SplitResult, parse_qsl, urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from modelclient import PRESETS, ModelProviderInfo, WireApi, find_preset, reasoning_efforts

from ..store.storage import SCHEMA_VERSION, Records
from .profiles import MAX_PROFILES, Profile, WireChoice, effective_wire

__all__ = [
    "DEFAULT_MODELS",
    "MAX_MODELS",
    "SETTINGS_KEY",
    "KeySource",
    "MemoryKeySource",
    "Settings",
    "SettingsError",
    "SettingsStore",
    "StoredKey",
    "Template",
    "mask_key",
    "normalise_base_url",
    "provider_info",
    "validate_key",
]

SETTINGS_KEY = "settings"
OPENAI_BASE = "https://api.openai.com/v1"
CHATGPT_BASE = "https://chatgpt.com/backend-api/codex"  # modelclient.CHATGPT_BASE_URL
TOKEN_URL = "https://auth.openai.com/oauth/token"  # modelclient.REFRESH_TOKEN_URL
DEFAULT_MODEL = "gpt-5-mini"
DEFAULT_MODELS = ("gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-4.1", "gpt-4.1-mini", "o4-mini")
DEFAULT_INSTRUCTIONS = (
    "You are SidePy, a helpful assistant in the browser's side panel. Answer clearly and concisely "
    "in Markdown. When the user shares page content, ground your answer in it."
)
Provider = Literal["openai", "azure", "compatible"]
MAX_MODELS = 500  # OpenRouter lists ~350
PRESET_IDS = frozenset(p.id for p in PRESETS)


#: What the options page shows of each preset (what a user must bring, and how).
PRESET_VIEWS = [
    {"id": p.id, "label": p.label, "base_url": p.base_url, "example": p.base_url_example, "key": p.key,
     "key_where": p.key_where, "local": p.local, "start": p.start, "wire_api": p.wire_api, "paid": p.paid,
     "default_model": p.default_model}
    for p in PRESETS
]  # fmt: skip


def provider_of(preset_id: str) -> Provider:
    """The request shape a preset needs: OpenAI's, Azure's, or any compatible server's."""
    return "openai" if preset_id == "openai" else "azure" if preset_id == "azure" else "compatible"


class SettingsError(Exception):
    """Invalid settings; ``fields`` maps each field to what is wrong with it."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in fields.items()))
        self.fields = fields


def normalise_base_url(url: str, provider: Provider = "openai") -> tuple[str, str]:
    """``(base, query)`` from a base URL or a full ``…/responses`` endpoint URL.

    Adds ``https://`` (``http://`` for localhost) when no scheme is given, drops
    trailing slashes and a final ``/responses``, and fills an empty path with
    the provider's usual one (``/v1``; Azure ``/openai/v1``).

    Raises:
        ValueError: not an http(s) URL, or the legacy Completions endpoint.
    """
    text = url.strip()
    if not text:
        if provider == "openai":
            return OPENAI_BASE, ""
        raise ValueError("enter the server's URL, e.g. https://host/v1")
    if "://" not in text:
        host = urlsplit("//" + text).hostname or ""
        text = ("http://" if is_loopback(host) else "https://") + text
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL, e.g. https://api.openai.com/v1")
    if any(c.isspace() for c in text):
        raise ValueError("must not contain spaces")
    _check_plain_http(parts.scheme, parts)
    path = parts.path.rstrip("/")
    if path.endswith("/chat/completions"):
        path = path[: -len("/chat/completions")].rstrip("/")
    elif path.endswith("/completions"):
        raise ValueError("this is the legacy Completions endpoint: give the base URL (e.g. https://host/v1)")
    if path.endswith("/responses"):
        path = path[: -len("/responses")].rstrip("/")
    if not path:
        path = "/openai/v1" if provider == "azure" else "/v1"
    return urlunsplit((parts.scheme.lower(), parts.netloc, path, "", "")), parts.query


def is_loopback(host: str) -> bool:
    """``localhost``, ``*.localhost``, ``127.0.0.0/8`` or ``::1``: this machine."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_plain_http(scheme: str, parts: SplitResult) -> None:
    """Plain ``http://`` only to this machine: anywhere else a key would cross the network readable."""
    try:
        host = parts.hostname or ""
    except ValueError:
        raise ValueError("the address is not valid") from None
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain a user name or password (the key goes in the key field)")
    if scheme.lower() == "http" and not is_loopback(host):
        raise ValueError(f"plain http:// is only for servers on this computer (localhost, 127.0.0.1); "
                         f"use https://{host}")


class Template(BaseModel):
    """A prompt template, used by the panel's ``/name`` shortcut."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    prompt: str = Field(min_length=1, max_length=8_000)


# What a fresh install offers after "/" in the panel. "summarize" and "explain" are also the
# prompts of the panel's "Summarize page" and "Ask about selection": editing them here edits
# those buttons ({input} is the page's title, or what is typed after /name).
STARTER_TEMPLATES = (
    ("summarize", "Summarize “{input}” in a few short bullet points, then say what it means for me."),
    ("explain", "Explain the selected text simply, with an example if it helps."),
    ("tldr", "In two sentences: {input}"),
    ("translate", "Translate into English, keeping the tone: {input}"),
    ("fix", "Fix the spelling and grammar, change nothing else: {input}"),
    ("reply", "Draft a short, friendly reply to this: {input}"),
)


def starter_templates() -> list[Template]:
    return [Template(name=name, prompt=prompt) for name, prompt in STARTER_TEMPLATES]


class Settings(BaseModel):
    """The stored settings (everything in ``SettingsView`` but the key and ``request_url``)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    schema_: int = Field(SCHEMA_VERSION, alias="schema")
    provider: Provider = "openai"
    base_url: str = OPENAI_BASE  # normalised; may end in "?query" (Azure's api-version)
    model: str = Field(DEFAULT_MODEL, min_length=1, max_length=200)
    models: list[str] = Field(default_factory=lambda: list(DEFAULT_MODELS), max_length=MAX_MODELS)
    # The provider (modelclient's presets) and how to speak to it.
    preset: str = ""  # "" (settings saved before presets): derived from provider and base URL
    wire_api: WireChoice = "auto"
    detected_wire: Literal["responses", "chat"] | None = None
    # Other saved providers, and which one the fields above belong to.
    profiles: list[Profile] = Field(default_factory=list, max_length=MAX_PROFILES)
    active_profile: str = ""
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    reasoning_summary: Literal["auto", "concise", "detailed", "none"] = "auto"
    verbosity: Literal["low", "medium", "high"] | None = None
    instructions: str = Field(DEFAULT_INSTRUCTIONS, max_length=20_000)
    idle_timeout_ms: int = Field(300_000, ge=5_000, le=3_600_000)
    request_max_retries: int = Field(4, ge=0, le=100)
    stream_max_retries: int = Field(5, ge=0, le=100)
    organization: str | None = Field(None, max_length=200)
    project: str | None = Field(None, max_length=200)
    templates: list[Template] = Field(default_factory=starter_templates, max_length=100)
    web_search: bool = False
    # ChatGPT sign-in (background.accounts): which credential turns use, and where tokens refresh.
    auth_mode: Literal["apikey", "chatgpt"] = "apikey"
    token_url: str = Field(TOKEN_URL, max_length=2_000)

    @model_validator(mode="before")
    @classmethod
    def _preset_and_provider(cls, data: Any) -> Any:
        """``provider`` follows ``preset``; a pasted ``…/chat/completions`` URL means the chat wire."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        preset = data.get("preset")
        if isinstance(preset, str) and preset:
            if preset not in PRESET_IDS:
                raise ValueError(f"unknown provider preset {preset!r}")
            data["provider"] = provider_of(preset)
        url = data.get("base_url")
        path = urlsplit(url.strip()).path.rstrip("/") if isinstance(url, str) else ""
        if path.endswith("/chat/completions") and data.get("wire_api", "auto") == "auto":
            data["wire_api"] = "chat"
        return data

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str, info: ValidationInfo) -> str:
        provider = info.data.get("provider", "openai")
        base, query = normalise_base_url(value, provider)
        if provider == "azure" and urlsplit(base).hostname == "api.openai.com":
            raise ValueError("enter your Azure OpenAI resource URL, e.g. https://NAME.openai.azure.com/openai/v1")
        return f"{base}?{query}" if query else base

    @field_validator("token_url", mode="before")
    @classmethod
    def _token_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return TOKEN_URL  # blank: the real endpoint (the field exists for tests and proxies)
        if isinstance(value, str):
            parts = urlsplit(value.strip())
            if parts.scheme.lower() not in ("http", "https") or not parts.netloc or " " in value.strip():
                raise ValueError("must be an http:// or https:// URL, e.g. " + TOKEN_URL)
            _check_plain_http(parts.scheme, parts)
            return value.strip()
        return value

    @field_validator("organization", "project")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return (value.strip() or None) if value is not None else None

    @field_validator("model")
    @classmethod
    def _model_name(cls, value: str) -> str:
        value = value.strip()
        if not value or any(c.isspace() for c in value):
            raise ValueError("a model name has no spaces, e.g. gpt-5-mini")
        return value

    @field_validator("models")
    @classmethod
    def _models(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(m.strip() for m in value if m.strip()))

    @field_validator("templates")
    @classmethod
    def _templates(cls, value: list[Template]) -> list[Template]:
        names = [t.name for t in value]
        if len(set(names)) != len(names):
            raise ValueError("two templates have the same name")
        return value

    @property
    def base(self) -> str:
        """The base URL without its query."""
        return self.base_url.partition("?")[0]

    @property
    def query(self) -> str:
        """The query sent with every request (``api-version=…``), or ``""``."""
        return self.base_url.partition("?")[2]

    @property
    def uses_chatgpt_base(self) -> bool:
        """ChatGPT sign-in with the OpenAI preset's own URL: requests go to the ChatGPT backend."""
        return self.auth_mode == "chatgpt" and self.provider == "openai" and self.base_url == OPENAI_BASE

    @property
    def api_base(self) -> str:
        """The base URL requests go to: the ChatGPT backend's by default with ChatGPT sign-in."""
        return CHATGPT_BASE if self.uses_chatgpt_base else self.base

    @property
    def preset_id(self) -> str:
        """The preset: the saved one, else (settings saved before presets) the provider's, with
        any compatible server as a custom one (its wire API detected, not guessed)."""
        if self.preset:
            return self.preset
        return self.provider if self.provider != "compatible" else "custom"

    @property
    def takes_no_key(self) -> bool:
        """The provider's server takes no key (Ollama, LM Studio): a saved key not approved for
        it is simply not sent, rather than a reason to refuse the request."""
        return find_preset(self.preset_id).key == "none"

    @property
    def wire(self) -> WireApi:
        """The wire API turns use (ChatGPT sign-in: always Responses)."""
        if self.uses_chatgpt_base:
            return "responses"
        return effective_wire(self.preset_id, self.wire_api, self.detected_wire)

    @property
    def wire_guessed(self) -> bool:
        """Turns use the Responses API only because nothing said otherwise: a custom server
        on "auto" whose wire API no test has detected (saved without Test connection, or
        the test ran before a worker restart). A turn that finds that endpoint missing
        tries Chat Completions (background.chat.turns)."""
        return (not self.uses_chatgpt_base and self.wire_api == "auto" and self.detected_wire is None
                and find_preset(self.preset_id).wire_api is None)

    @property
    def request_url(self) -> str:
        """The exact URL each turn is POSTed to."""
        path = "chat/completions" if self.wire == "chat" else "responses"
        return f"{self.api_base}/{path}" + (f"?{self.query}" if self.query else "")

    def offers(self, model: str) -> bool:
        """Whether the provider offers ``model``: its default, or one its server listed. A
        conversation's model the provider does not offer (another provider's, after a switch)
        gives way to the provider's default (:mod:`background.chat.scheduler`)."""
        return model == self.model or model in self.models

    def query_params(self) -> dict[str, str] | None:
        """The query string as the client's ``query_params``."""
        return dict(parse_qsl(self.query, keep_blank_values=True)) or None

    def view(self, key: dict[str, Any]) -> dict[str, Any]:
        """``SettingsView`` of docs/protocol.md."""
        models = list(self.models)
        if self.model not in models:
            models.insert(0, self.model)
        preset = find_preset(self.preset_id)
        return {
            "provider": self.provider,
            "preset": preset.id,
            "presets": PRESET_VIEWS,
            "wire_api": self.wire_api,
            "wire": self.wire,
            "detected_wire": self.detected_wire,
            "profiles": [p.view() for p in self.profiles],
            "active_profile": self.active_profile,
            "base_url": self.base_url,
            "request_url": self.request_url,
            "model": self.model,
            "models": models,
            # The reasoning efforts each listed model takes: the pickers offer only these.
            "efforts": {m: list(reasoning_efforts(m)) for m in models},
            "reasoning_effort": self.reasoning_effort,
            "reasoning_summary": self.reasoning_summary,
            "verbosity": self.verbosity,
            "instructions": self.instructions,
            "idle_timeout_ms": self.idle_timeout_ms,
            "request_max_retries": self.request_max_retries,
            "stream_max_retries": self.stream_max_retries,
            "organization": self.organization,
            "project": self.project,
            "web_search": self.web_search,
            "auth_mode": self.auth_mode,
            "token_url": self.token_url,
            "key": key,
            "templates": [t.model_dump() for t in self.templates],
        }


def provider_info(settings: Settings, key: str | None) -> ModelProviderInfo:
    """Where requests go: the preset, base URL and query, retries, idle timeout."""
    return ModelProviderInfo(
        name="azure" if settings.provider == "azure" else "OpenAI",
        # None: the client's default for its auth, the ChatGPT backend with ChatGPT sign-in.
        base_url=None if settings.uses_chatgpt_base else settings.base,
        query_params=settings.query_params(),
        # Azure's key auth is the api-key header (Bearer also works on its v1 API).
        http_headers={"api-key": key} if settings.provider == "azure" and key else None,
        organization=settings.organization,
        project=settings.project,
        request_max_retries=settings.request_max_retries,
        stream_max_retries=settings.stream_max_retries,
        stream_idle_timeout_ms=settings.idle_timeout_ms,
        # Chat Completions for a server that speaks only that (settings.wire: chosen, preset, detected).
        wire_api=settings.wire,
        chat_include_usage=find_preset(settings.preset_id).chat_include_usage,
    )


_PATCHABLE = frozenset(Settings.model_fields) - {"schema_"}
# In the view; sent back by a form, ignored.
_READ_ONLY = frozenset({"request_url", "key", "auth", "presets", "wire", "efforts"})
# Changed only by the worker itself (profiles: background.settings.providers; detected_wire:
# Test connection), never by a form's patch: ignored there too.
_INTERNAL = frozenset({"profiles", "active_profile", "detected_wire"})


def _field_errors(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        name = loc[0] if loc else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        if len(loc) > 1:
            message = f"{'.'.join(loc[1:])}: {message}"
        fields.setdefault(name, message)
    return fields


class SettingsStore:
    """Load, patch and save :class:`Settings` (one record, written atomically)."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self._cached: Settings | None = None
        # One patch at a time: each merges over the settings the last one wrote (two merging
        # over the same ones would lose the first's change when the second is written).
        self._lock = asyncio.Lock()

    async def load(self) -> Settings:
        """The saved settings, defaults if none (or if the record is damaged: reported)."""
        if self._cached is None:
            try:
                stored = await self.records.read(SETTINGS_KEY, Settings, "Your settings")
            except Exception as exc:  # a damaged record is reported by Records; run on defaults
                print(f"background: settings unreadable, using defaults: {exc}")
                stored = None
            self._cached = stored or Settings()
        return self._cached

    async def preview(self, patch: dict[str, Any], *, internal: bool = False) -> Settings:
        """The settings ``patch`` would give, validated but not saved (a form's live view).

        ``internal``: the worker's own patch, which may set the profiles and the
        detected wire API; a form's cannot. A form's new preset or base URL forgets
        the detected wire API (it was another server's).

        Raises:
            SettingsError: per-field messages; nothing changes.
        """
        unknown = sorted(set(patch) - _PATCHABLE - _READ_ONLY)
        if unknown:
            raise SettingsError({name: "not a setting" for name in unknown})
        loaded = await self.load()
        current = loaded.model_dump(by_alias=True)
        allowed = _PATCHABLE if internal else _PATCHABLE - _INTERNAL
        merged = {**current, **{k: v for k, v in patch.items() if k in allowed}}
        if patch.get("provider") == "openai" and "base_url" not in patch:
            merged["base_url"] = OPENAI_BASE  # back to the preset
        try:
            settings = Settings.model_validate(merged)
        except ValidationError as exc:
            raise SettingsError(_field_errors(exc)) from None
        # Another server (compared as saved: normalised URL, effective preset): what was found
        # about the last one is not this one's — its wire API, and the models it listed (this
        # one's come from its own GET /models).
        if not internal and (settings.preset_id, settings.base_url) != (loaded.preset_id, loaded.base_url):
            settings.detected_wire = None
            if "models" not in patch:
                settings.models = list(DEFAULT_MODELS) if settings.preset_id == "openai" else []
        return settings

    async def patch(self, patch: dict[str, Any], *, internal: bool = False) -> Settings:
        """Apply a partial update; raise :class:`SettingsError` and write nothing if invalid."""
        async with self._lock:
            return await self._write(await self.preview(patch, internal=internal))

    async def keep_detected_wire(self, found_on: Settings, wire: WireApi) -> None:
        """Keep a wire API found on ``found_on`` (by Test connection, or by a turn) for the
        saved settings if they are still that server: a provider switched to since does not
        get another server's answer."""
        async with self._lock:  # the check and the write see the same saved settings
            saved = await self.load()
            same = (saved.base_url, saved.preset_id) == (found_on.base_url, found_on.preset_id)
            if same and saved.detected_wire != wire:
                await self._write(await self.preview({"detected_wire": wire}, internal=True))

    async def _write(self, settings: Settings) -> Settings:
        await self.records.write({SETTINGS_KEY: settings})
        self._cached = settings
        return settings


# ---------------------------------------------------------------------------
# The API key
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredKey:
    """The API key and the origins the user approved sending it to (``None``: stored by a
    version that did not record them; :class:`~background.settings.credentials.Keys` binds
    it to the saved settings' origin)."""

    key: str
    origins: frozenset[str] | None


class KeySource(Protocol):
    """Where the API key and its approved origins are kept (the vault: ``VaultKeySource``)."""

    async def get(self) -> str | None:
        """The key, or ``None`` when none is set (or the vault is locked)."""
        ...

    async def load(self) -> StoredKey | None:
        """The key with its approved origins, or ``None``."""
        ...

    async def set(self, key: str) -> None:
        """Remember ``key`` (already validated), approved for no origin yet."""
        ...

    async def store(self, key: str, origins: Iterable[str]) -> None:
        """Remember ``key`` approved for exactly ``origins``."""
        ...

    async def clear(self) -> None:
        """Forget the key."""
        ...

    def masked(self) -> str | None:
        """``sk-…abcd`` for display, ``None`` when no key is known; never the key."""
        ...


def mask_key(key: str | None) -> str | None:
    """``sk-…abcd``: the prefix up to the first ``-`` (if short) and the last 4 characters."""
    if not key:
        return None
    if len(key) < 12:
        return "…"
    head, dash, _ = key.partition("-")
    prefix = head + dash if dash and len(head) <= 4 else ""
    return f"{prefix}…{key[-4:]}"


def validate_key(key: object) -> str:
    """The key, stripped; raise :class:`SettingsError` if it cannot be sent in a header."""
    if not isinstance(key, str) or not key.strip():
        raise SettingsError({"key": "paste your API key"})
    key = key.strip()
    if len(key) < 8 or len(key) > 1024:
        raise SettingsError({"key": "this does not look like an API key (too short or too long)"})
    if not all("!" <= c <= "~" for c in key):
        raise SettingsError({"key": "the key has spaces or characters that cannot be sent to the server"})
    return key


class MemoryKeySource:
    """:class:`KeySource` in memory (tests; a worker without ``chrome.storage.session``)."""

    def __init__(self, key: str | None = None, origins: Iterable[str] | None = None) -> None:
        self._key = key
        self._origins = frozenset(origins) if origins is not None else None

    async def get(self) -> str | None:
        return self._key

    async def load(self) -> StoredKey | None:
        return StoredKey(self._key, self._origins) if self._key else None

    async def set(self, key: str) -> None:
        self._key, self._origins = key, None

    async def store(self, key: str, origins: Iterable[str]) -> None:
        self._key, self._origins = key, frozenset(origins)

    async def clear(self) -> None:
        self._key = self._origins = None

    def masked(self) -> str | None:
        return mask_key(self._key)
