"""``GET {base}/models``: the models a server offers (sans-IO parser and a thin shell).

Every wire API's servers list their models the same way, OpenAI's
``{"object": "list", "data": [{"id": …}, …]}`` (OpenAI, Azure's v1 API, OpenRouter,
Groq, DeepSeek, Mistral, Gemini's compatible endpoint, Ollama, LM Studio,
llama.cpp, vLLM, LiteLLM). :func:`parse_model_list` also reads the two other
shapes a base URL can lead to: Ollama's native ``{"models": [{"name"|"model"}]}``
and the ChatGPT backend's ``{"models": [{"slug"}]}``.

:func:`list_models` sends the request with the headers a turn sends (auth,
the provider's own headers, organization and project) and maps a failure
onto the same error tree as a turn: no answer → :class:`ConnectionFailedError`,
an error status → :func:`classify_http_error`, a 2xx that is no model list →
:class:`NotAModelListError`. It does not retry: the options page and the
panel's picker call it on demand and show what went wrong.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Self

from ._classify import classify_http_error
from ._error_base import ModelClientError
from ._errors import ConnectionFailedError
from ._json import loads_untrusted
from ._provider import ModelProviderInfo
from ._transport import HttpRequest, Transport

__all__ = ["NotAModelListError", "list_models", "parse_model_list"]

#: More than any server lists (OpenRouter: ~350); a hostile list is cut here.
MAX_MODELS = 2000
_ID_KEYS = ("id", "name", "model", "slug")


class NotAModelListError(ModelClientError):
    """Something answered ``GET {base}/models`` with 2xx, but not with a model list.

    Usually a base URL that points at a web page, or at the server's root
    instead of its ``/v1``.

    Fields:
        url: the URL that was asked.
    """

    kind = "not_a_model_list"

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(f"{url} answered, but not with a list of models")

    def fields(self) -> dict[str, Any]:
        return {"url": self.url}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        return cls(str(fields.get("url", "")))


def parse_model_list(body: str | bytes) -> list[str]:
    """The model ids of a model-list reply, in the server's order, without duplicates.

    Raises:
        ValueError: the body is not JSON with a ``data`` or ``models`` list.
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    data = loads_untrusted(text)  # ValueError on bad JSON
    entries = None
    if isinstance(data, dict):
        entries = data.get("data")
        if not isinstance(entries, list):
            entries = data.get("models")
    if not isinstance(entries, list):
        raise ValueError("no `data` or `models` list")
    ids: dict[str, None] = {}
    for entry in entries[:MAX_MODELS]:
        if isinstance(entry, str):
            model = entry
        elif isinstance(entry, dict):
            model = next((entry[k] for k in _ID_KEYS if isinstance(entry.get(k), str) and entry[k]), "")
        else:
            continue
        model = model.strip()
        if model and len(model) <= 200:
            ids[model] = None
    return list(ids)


def model_list_headers(provider: ModelProviderInfo, bearer_token: str | None) -> dict[str, str]:
    """The headers of ``GET /models``: a turn's auth and provider headers, JSON accepted."""
    headers: dict[str, str] = {}
    if bearer_token:
        headers["Authorization"] = f"Bearer {bearer_token}"
    headers.update(provider.http_headers or {})
    for name, value in (("OpenAI-Organization", provider.organization), ("OpenAI-Project", provider.project)):
        if value is not None and value.strip():
            headers[name] = value
    headers["Accept"] = "application/json"
    return headers


async def list_models(
    transport: Transport,
    provider: ModelProviderInfo,
    *,
    bearer_token: str | None = None,
    with_timeout: Callable[[Awaitable[Any], float], Awaitable[Any]] | None = None,
    timeout_s: float = 15.0,
) -> list[str]:
    """The ids ``GET {provider.models_url()}`` lists.

    Args:
        transport: the same transport a turn uses.
        provider: base URL, query, headers.
        bearer_token: the API key (``None``: no ``Authorization`` header, for a
            local server that takes none).
        with_timeout: bounds sending and reading (``asyncio.wait_for``); ``None``
            leaves it to the transport.
        timeout_s: the bound.

    Raises:
        ConnectionFailedError: no answer (refused, DNS, TLS, offline, or none in time).
        ModelClientError: the server's error status, classified as for a turn.
        NotAModelListError: a 2xx that is not a model list.
    """
    url = provider.models_url()
    request = HttpRequest("GET", url, model_list_headers(provider, bearer_token))

    async def fetch() -> tuple[int, Mapping[str, str], bytes]:
        response = await transport.send(request)
        try:
            return response.status, response.headers, await response.aread()
        finally:
            await response.aclose()

    if with_timeout is None:
        status, headers, body = await fetch()
    else:
        try:
            status, headers, body = await with_timeout(fetch(), timeout_s)
        except TimeoutError:
            raise ConnectionFailedError(f"no answer from {url} within {timeout_s:g} s") from None
    if not 200 <= status < 300:
        raise classify_http_error(status, headers, body)
    try:
        return parse_model_list(body)
    except ValueError:
        raise NotAModelListError(url) from None
