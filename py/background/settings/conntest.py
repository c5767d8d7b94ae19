"""``settings.test``: one cheap authenticated call that says exactly what is wrong.

The options page's "Test connection" button. It sends ``GET {base}/models`` (with
the provider's query, e.g. Azure's ``api-version``) with the same auth headers a
turn would send, through the app's transport (``fetch`` in the worker), and turns
the outcome into one of a few kinds a user can act on:

========== ===================================================================
``ok``          the key works and the server lists models
``rate_limited`` the key works, but the server says "slow down" (429) right now
``no_key``      no key to test with (and the preset needs one)
``bad_key``     401: the server refused the key (or wants one)
``forbidden``   403: the key is known but may not do this (organization, project, role)
``wrong_url``   404/405: nothing answers there — the base URL is wrong
``not_openai``  something answered, but not an OpenAI-compatible model list
``cors``        the server is reachable, but the browser blocked the reply: no host
                permission for its origin and no CORS headers
``network``     no connection at all: refused, DNS, TLS, offline
``timeout``     no answer within :data:`TIMEOUT_S`
``server_error`` 5xx; ``http_error`` any other status
========== ===================================================================

A failed ``fetch`` says nothing on purpose (CORS, DNS and refused all look alike),
so when it fails the test asks two more questions through :class:`AccessProbe`:
does the extension hold a host permission for the origin
(``chrome.permissions.contains``), and does the server answer at all to a
``no-cors`` request (which CORS cannot block)? Reachable means CORS; not
reachable means network.

Where the provider says more, its sentence replaces the generic one
(``modelclient.advise_failure``): a local server that is not running and how to
start it, Ollama refusing the extension's origin (``OLLAMA_ORIGINS``), a key the
preset needs and where to get it.

The key never appears in the reply: what the server says is redacted before it
is quoted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from modelclient import (
    Auth,
    ConnectionFailedError,
    HttpRequest,
    ModelClient,
    ModelClientError,
    ModelSettings,
    Probe,
    RefreshTokenFailedError,
    RefreshTokenTransientError,
    RetryPolicy,
    Transport,
    UnauthorizedError,
    UnexpectedStatusError,
    WireApi,
    advise_failure,
    build_chat_request,
    build_request,
    detect_wire_api,
    explain_failure,
    find_preset,
    probe_prompt,
    run_probe,
)
from modelclient._json import loads_untrusted  # server JSON: depth-guarded (a deep body kills Pyodide)

from ..chat.request import provider_info
from ..scrub import redact
from .model import Settings

__all__ = ["AccessProbe", "ConnectionTest", "origin_pattern"]

Message = dict[str, Any]
WithTimeout = Callable[[Awaitable[Any], float], Awaitable[Any]]

TIMEOUT_S = 15.0
PROBE_TIMEOUT_S = 30.0  # the one-line turn of a connection test, both wires if detecting
MAX_BODY_BYTES = 4 * 1024 * 1024  # a long model list is ~100 KB; past this it is not one
DETAIL_CHARS = 300


class AccessProbe(Protocol):
    """What the browser can tell about an origin (``None``: cannot tell here)."""

    async def granted(self, pattern: str) -> bool | None:
        """Does the extension hold the host permission ``pattern`` (``https://host/*``)?"""
        ...

    async def reachable(self, url: str) -> bool | None:
        """Does anything answer at ``url`` (a ``no-cors`` request: CORS cannot block it)?"""
        ...


def origin_pattern(url: str) -> str:
    """The host-permission match pattern of ``url``'s origin: ``scheme://host/*``.

    Chrome's match patterns have no port, so a permission covers every port of the host.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{parts.scheme}://{host}/*"


def _auth_headers(settings: Settings, key: str | None) -> dict[str, str]:
    """What a turn sends to authenticate (modelclient's request headers, minus the stream's)."""
    headers = {"Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
        if settings.provider == "azure":
            headers["api-key"] = key  # Azure's key header (see request.provider_info)
    for name, value in (("OpenAI-Organization", settings.organization), ("OpenAI-Project", settings.project)):
        if value:
            headers[name] = value
    return headers


def probe_body(settings: Settings, wire: WireApi) -> Message:
    """The one-line turn a connection test sends (shown before a paid test is sent): URL and body."""
    provider = provider_info(settings, None).model_copy(update={"wire_api": wire})
    model = ModelSettings(model=settings.model)
    if wire == "chat":
        body = build_chat_request(probe_prompt(), model, base_instructions="", provider=provider).to_payload()
    else:
        body = build_request(probe_prompt(), model, base_instructions="", conversation_id=None,
                             provider=provider).to_payload()
    return {"url": provider.stream_url(), "body": body}


def models_url(settings: Settings) -> str:
    return f"{settings.api_base}/models" + (f"?{settings.query}" if settings.query else "")


class ConnectionTest:
    """Runs ``settings.test`` for one settings + key."""

    def __init__(
        self,
        transport: Callable[[], Transport] | None,
        access: AccessProbe | None = None,
        *,
        with_timeout: WithTimeout = asyncio.wait_for,
        monotonic: Callable[[], float] = time.monotonic,
        extension_origin: str = "",
    ) -> None:
        self._transport = transport
        self._access = access
        self._with_timeout = with_timeout
        self._monotonic = monotonic
        self._origin = extension_origin  # chrome-extension://<id>, for Ollama's origin advice

    async def run(self, settings: Settings, key: str | None, *, auth: Auth | None = None,
                  probe: bool = False) -> Message:
        """The outcome: ``{ok, kind, message, url, origin, status?, detail?, models?, model_listed?}``,
        and with ``probe`` also what one tiny streamed turn did (:meth:`_probe`).

        ``auth``: ChatGPT sign-in instead of ``key`` (its access token and
        ``chatgpt-account-id``; a 401 refreshes the token and asks once more).
        """
        url = models_url(settings)
        out: Message = {"url": url, "origin": origin_pattern(url)}
        if auth is not None:
            return await self._run_chatgpt(settings, auth, out)
        if not key and settings.provider != "compatible":
            return {**out, "ok": False, "kind": "no_key",
                    "message": "No API key to test: paste your key and save it (or test it before saving)."}
        if self._transport is None:
            return {**out, "ok": False, "kind": "network", "message": "No network access in this runtime."}
        outcome = {**out, **await self._try(settings, url, _auth_headers(settings, key), key)}
        outcome = _advised(outcome, settings, key, self._origin)
        # The turn chat will send, unless the server was not reached or refused the key.
        if probe and outcome["kind"] in ("ok", "rate_limited", "wrong_url", "not_openai"):
            return await self._probe(settings, key, outcome)
        return {**outcome, "probe": probe_body(settings, settings.wire)}  # what it would send

    async def _probe(self, settings: Settings, key: str | None, outcome: Message) -> Message:
        """One tiny streamed turn on the wire chat will use, detecting it for a custom server
        (Responses first, then Chat Completions: ``modelclient.detect_wire_api``)."""
        assert self._transport is not None
        transport = self._transport()
        retry = RetryPolicy(request_max_retries=0, stream_max_retries=0)

        def client(wire: WireApi) -> ModelClient:
            provider = provider_info(settings, key).model_copy(update={"wire_api": wire})
            return ModelClient(transport, settings=ModelSettings(model=settings.model), provider=provider,
                               auth=key, retry=retry, with_timeout=self._with_timeout, product="SidePy")

        detect = settings.wire_api == "auto" and find_preset(settings.preset_id).wire_api is None
        try:
            if detect:
                wire, probes = await self._with_timeout(detect_wire_api(client), PROBE_TIMEOUT_S)
            else:
                probes = [await self._with_timeout(run_probe(client(settings.wire)), PROBE_TIMEOUT_S)]
                wire = settings.wire if probes[0].ok else None
        except TimeoutError:
            probes, wire = [], None
        finally:
            await transport.aclose()
        last: Probe | None = probes[-1] if probes else None
        sent = provider_info(settings, None).model_copy(update={"wire_api": wire or settings.wire})
        result: Message = {**outcome, "probe": probe_body(settings, sent.wire_api), "detected": detect}
        if wire is not None and last is not None:
            words = "Chat Completions" if wire == "chat" else "the Responses API"
            usage = last.usage.total_tokens if last.usage is not None else None
            said = " ".join(last.text.split())[:120]
            message = f"Chat works: {settings.model} answered “{said}” over {words}"
            message += f" ({usage} tokens)." if usage is not None else "."
            if outcome["kind"] != "ok":
                message += f" ({outcome['message']})"
            elif not outcome.get("model_listed", True):
                message += f" {settings.model} is not in the server's list: check the model name."
            return {**result, "ok": True, "kind": "ok", "wire": wire, "reply": said, "usage": usage,
                    "message": message}
        if outcome["kind"] not in ("ok", "rate_limited"):
            return result  # the model list's own failure (a wrong URL…) says more than the turn's
        if last is None:
            return {**result, "ok": False, "kind": "timeout",
                    "message": f"The model did not answer a one-line message within {PROBE_TIMEOUT_S:.0f} s."}
        error = last.error
        assert error is not None
        why = explain_failure(error, find_preset(settings.preset_id), settings.base, model=settings.model,
                              models=outcome.get("model_ids") or (), extension_origin=self._origin,
                              has_key=bool(key)) or str(error)
        return {**result, "ok": False, "kind": "chat_failed", "message": f"Chat failed: {redact(why, key)}"}

    async def _run_chatgpt(self, settings: Settings, auth: Auth, out: Message) -> Message:
        """``GET /models`` as a turn signed in with ChatGPT asks: fresh token, a refresh on 401."""
        if self._transport is None:
            return {**out, "ok": False, "kind": "network", "message": "No network access in this runtime."}
        outcome: Message = {}
        for attempt in range(2):
            try:
                token = await auth.token()
                headers = _auth_headers(settings, token)
                if auth.account_id:
                    headers["chatgpt-account-id"] = auth.account_id
                outcome = await self._try(settings, out["url"], headers, token)
                if outcome.get("status") != 401 or attempt or not auth.can_refresh:
                    break
                await auth.refresh()
            except RefreshTokenFailedError as exc:  # the Rust text: sign in again
                return {**out, "ok": False, "kind": "signed_out", "message": exc.message}
            except RefreshTokenTransientError as exc:
                return {**out, "ok": False, "kind": "network", "message": f"ChatGPT sign-in: {exc}"}
        if outcome.get("kind") == "bad_key":
            outcome["message"] = ("ChatGPT refused the access token (HTTP 401), even after refreshing it: "
                                  "import your auth.json again.")
        elif outcome.get("kind") == "forbidden":
            outcome["message"] = ("ChatGPT refused the request for this account (HTTP 403): check the plan, "
                                  "or import your auth.json again.")
        return {**out, **outcome}

    async def _try(self, settings: Settings, url: str, headers: dict[str, str], secret: str | None
                   ) -> Message:
        """One ``GET``, classified: what :meth:`run` answers, without ``url`` and ``origin``."""
        started = self._monotonic()
        try:
            status, body = await self._with_timeout(self._get(url, headers), TIMEOUT_S)
        except TimeoutError:  # asyncio.TimeoutError is TimeoutError since 3.11
            return {"ok": False, "kind": "timeout",
                    "message": f"No answer from {_host(url)} within {TIMEOUT_S:.0f} s: is the server up?"}
        except ConnectionFailedError as exc:
            return await self._no_response(url, origin_pattern(url), redact(exc.message, secret))
        except ModelClientError as exc:  # the body broke off
            return {"ok": False, "kind": "network",
                    "message": f"The connection to {_host(url)} broke: {redact(str(exc), secret)}"}
        return {"elapsed_ms": int((self._monotonic() - started) * 1000),
                **_classify(status, body, url, settings, secret)}

    async def _get(self, url: str, headers: dict[str, str]) -> tuple[int, bytes]:
        assert self._transport is not None
        transport = self._transport()
        response = await transport.send(HttpRequest("GET", url, headers))
        parts: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                parts.append(chunk)
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    break
        finally:
            await response.aclose()
        return response.status, b"".join(parts)

    async def _no_response(self, url: str, pattern: str, error: str) -> Message:
        """``fetch`` failed: was it CORS (the server is there) or the network (it is not)?"""
        granted = reachable = None
        if self._access is not None:
            granted = await _quietly(self._access.granted(pattern))
            reachable = await _quietly(self._access.reachable(url))
        base = pattern[:-2]
        if reachable:
            if granted is False:
                message = (f"{_host(url)} answered, but the browser blocked the reply: SidePy has no access "
                           f"to {base} and the server sends no CORS headers. Grant access to {base}.")
            else:
                message = (f"{_host(url)} answered, but the browser blocked the reply (CORS, or an "
                           "invalid certificate).")
            return {"ok": False, "kind": "cors", "access": granted, "message": message}
        message = (f"Could not connect to {_host(url)}: the connection was refused, the name did not "
                   "resolve, or TLS failed. Is the server running, and is the URL right?")
        result: Message = {"ok": False, "kind": "network", "message": message}
        if reachable is None:
            result["detail"] = error[:DETAIL_CHARS]  # no probe here: the transport's words are all we have
        if granted is not None:
            result["access"] = granted
        return result


# A failed GET /models as the error a turn would meet, for the provider's sentence.
_AS_ERRORS: dict[str, Callable[[], ModelClientError]] = {
    "network": lambda: ConnectionFailedError("no connection"),
    "bad_key": UnauthorizedError,
    "forbidden": lambda: UnexpectedStatusError(403, ""),
}
# The provider's sentences that say more than the test's own (which knows CORS from network).
_ADVICE_WINS = ("not_running", "origins", "needs_key")


def _advised(outcome: Message, settings: Settings, key: str | None, extension_origin: str) -> Message:
    """``outcome`` with the provider's sentence where it names the fix (see the module docstring)."""
    make = _AS_ERRORS.get(outcome["kind"])
    if make is None:
        return outcome
    advice = advise_failure(make(), find_preset(settings.preset_id), settings.base,
                            extension_origin=extension_origin, has_key=bool(key))
    if advice is None or advice.reason not in _ADVICE_WINS:
        return outcome
    return {**outcome, "message": advice.text}


async def _quietly(question: Awaitable[bool | None]) -> bool | None:
    try:
        return await question
    except Exception:  # a probe that fails knows nothing
        return None


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _server_says(body: bytes, key: str | None) -> str | None:
    """The error message in an OpenAI-style error body (redacted, shortened), if any."""
    try:
        data = loads_untrusted(body.decode("utf-8", "replace"))
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str) or not message.strip():
        return None
    return str(redact(message.strip(), key))[:DETAIL_CHARS]


def _classify(status: int, body: bytes, url: str, settings: Settings, key: str | None) -> Message:
    detail = _server_says(body, key) if status >= 400 else None
    out: Message = {"status": status}
    if detail:
        out["detail"] = detail
    if 200 <= status < 300:
        return {**out, **_model_list(body, url, settings)}
    if status == 401:
        message = ("The server refused the API key (HTTP 401): check that you pasted the whole key, "
                   "for this provider." if key else "The server needs an API key (HTTP 401).")
        return {**out, "ok": False, "kind": "bad_key", "message": message}
    if status == 403:
        return {**out, "ok": False, "kind": "forbidden",
                "message": ("The server knows the key but refused the request (HTTP 403): check the "
                            "organization and project, and the key's permissions.")}
    if status in (404, 405):
        hint = "/openai/v1" if settings.provider == "azure" else "/v1"
        return {**out, "ok": False, "kind": "wrong_url",
                "message": (f"Nothing answers at {url} (HTTP {status}): the base URL is probably wrong; "
                            f"it usually ends in {hint}.")}
    if status == 429:
        return {**out, "ok": True, "kind": "rate_limited",
                "message": ("Connected and the key works, but the server is rate-limiting you right now "
                            "(HTTP 429).")}
    if status >= 500:
        return {**out, "ok": False, "kind": "server_error",
                "message": f"The server failed (HTTP {status}); try again later."}
    return {**out, "ok": False, "kind": "http_error", "message": f"The server answered HTTP {status}."}


def _model_list(body: bytes, url: str, settings: Settings) -> Message:
    """A 2xx reply must be ``{"data": [{"id": ...}, ...]}`` to be an OpenAI-compatible API."""
    try:
        data = loads_untrusted(body.decode("utf-8", "replace"))
    except ValueError:
        data = None
    models = data.get("data") if isinstance(data, dict) else None
    if isinstance(data, dict) and models is None and isinstance(data.get("models"), list):
        # The ChatGPT backend's list (Codex's ModelsResponse): {"models": [{"slug": ...}]}.
        models = [{"id": m.get("slug")} for m in data["models"] if isinstance(m, dict)]
    if not isinstance(models, list):
        return {"ok": False, "kind": "not_openai",
                "message": (f"Something answered at {url}, but not like an OpenAI-compatible API (no model "
                            "list): check the base URL.")}
    ids = [m.get("id") for m in models if isinstance(m, dict) and isinstance(m.get("id"), str)]
    out: Message = {"ok": True, "kind": "ok", "models": len(ids), "model_ids": ids[:50]}
    message = f"Connected: the key works and the server lists {len(ids)} model{'s' if len(ids) != 1 else ''}."
    if ids:
        out["model_listed"] = settings.model in ids
        if not out["model_listed"]:
            message += f" {settings.model} is not among them: check the model name."
    out["message"] = message
    return out
