"""The client's credentials from an ``auth.json``, and the ChatGPT token refresh.

Rust keeps this in ``core/src/auth.rs``. :class:`AuthManager` is the client's
:class:`~modelclient.Auth` over an ``auth.json`` (:class:`~modelclient.AuthDotJson`,
read and written in ``_authfile.py``):

* **API key** when ``OPENAI_API_KEY`` is set, even if tokens are there too (A's
  load order); never refreshed, so a 401 is final.
* **ChatGPT** otherwise: the bearer is ``tokens.access_token``, the
  ``chatgpt-account-id`` is ``tokens.account_id`` (else the id token's claim) and
  the plan comes from the id token. The access token is refreshed before use when
  ``last_refresh`` is more than 8 days old (B/C) or its JWT ``exp`` has passed
  (C), and after every 401.

A refresh is one ``POST`` of B's JSON body to the token endpoint through the
client's :class:`~modelclient.Transport` (so it runs over ``fetch`` in the
browser), then the new tokens go to the injected ``save`` callback. A 401 from
the endpoint is permanent (:class:`~modelclient.RefreshTokenFailedError`: sign
in again); anything else is transient
(:class:`~modelclient.RefreshTokenTransientError`, retryable).

Concurrent refreshes collapse into one. This module may not import ``asyncio``
(the core runs with no event loop at all: the unit tests drive it by hand), so a
caller that finds a refresh in flight yields to whatever drives it until the
refresh lands; under a real loop that is a short poll, and only while two
requests refresh at the same moment.
"""

from __future__ import annotations

import contextlib
import json
import types
from collections.abc import Awaitable, Callable, Generator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from ._authfile import AuthDotJson, IdTokenError, IdTokenInfo, jwt_expiry, parse_id_token
from ._errors import (
    ConnectionFailedError,
    ModelClientError,
    RefreshTokenFailedError,
    RefreshTokenTransientError,
    StreamError,
)
from ._json import loads_untrusted
from ._transport import HttpRequest, Transport

__all__ = ["REFRESH_TOKEN_URL", "AuthManager"]

REFRESH_TOKEN_URL = "https://auth.openai.com/oauth/token"
CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
REFRESH_SCOPE = "openid profile email"  # B's body; C dropped it
TOKEN_REFRESH_INTERVAL = timedelta(days=8)  # A: 28 days; 8 since ef3e075a (B, C)

Save = Callable[[AuthDotJson], Awaitable[None]]
WithTimeout = Callable[[Awaitable[Any], float], Awaitable[Any]]

# ---------------------------------------------------------------------------
# The refresh exchange
# ---------------------------------------------------------------------------


def error_message(body: str) -> str:
    """Rust's ``try_parse_error_message``: ``error.message``, else the body, else "Unknown error"."""
    try:
        data = loads_untrusted(body)
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, str):
        return message
    return body or "Unknown error"


def classify_refresh_failure(body: str) -> RefreshTokenFailedError:
    """A 401 from the token endpoint: the code at ``error.code``, ``error`` or ``code`` picks the text."""
    code: Any = None
    try:
        data = loads_untrusted(body) if body.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            code = error["code"]
        elif isinstance(error, str):
            code = error
        else:
            code = data.get("code")
    # Rust lower-cases ASCII only (`to_ascii_lowercase`).
    key = code.translate(_ASCII_LOWER) if isinstance(code, str) else ""
    return RefreshTokenFailedError(_FAILURE_REASONS.get(key, "other"))


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# The endpoint's code → Rust's RefreshTokenFailedReason.
_FAILURE_REASONS = {
    "refresh_token_expired": "expired",
    "refresh_token_reused": "exhausted",
    "refresh_token_invalidated": "revoked",
}


def _refresh_reply(data: bytes) -> tuple[IdTokenInfo | None, str | None, str | None]:
    # Rust's RefreshResponse: three Option<String>; anything else is a transient failure.
    try:
        reply = loads_untrusted(data.decode("utf-8"))
    except ValueError as exc:
        raise RefreshTokenTransientError(None, f"invalid token response: {exc}") from None
    if not isinstance(reply, dict):
        raise RefreshTokenTransientError(None, "invalid token response: not a JSON object")
    values: list[str | None] = []
    for name in ("id_token", "access_token", "refresh_token"):
        value = reply.get(name)
        if value is not None and not isinstance(value, str):
            raise RefreshTokenTransientError(None, f"invalid token response: {name} is not a string")
        values.append(value)
    id_token, access, refresh = values
    try:
        info = None if id_token is None else parse_id_token(id_token)
    except IdTokenError as exc:
        raise RefreshTokenTransientError(None, str(exc)) from None
    return info, access, refresh


@types.coroutine
def _yield_once() -> Generator[None, None, None]:
    # A bare yield: asyncio / Pyodide's WebLoop run the task again on the next
    # turn; the unit tests' hand-driven loop just steps it again.
    yield


class _Flight:
    """One refresh in progress, shared by every caller that asks meanwhile."""

    def __init__(self) -> None:
        self.done = False
        self.abandoned = False  # the caller running it was cancelled
        self.error: Exception | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AuthManager:
    """The client's ``Auth`` over an ``auth.json``: API key, or ChatGPT tokens that refresh.

    Args:
        auth: the credentials (``AuthDotJson.from_json(text)``).
        transport: sends the refresh request (the client's own transport will do).
        save: awaited with the new :class:`AuthDotJson` after each refresh, so the
            app can persist it; the new tokens are in use whether or not it succeeds
            (the old refresh token is spent), and its errors reach the caller.
        token_url: the token endpoint (default ``https://auth.openai.com/oauth/token``).
        clock: now, as an aware datetime.
        with_timeout: bounds each refresh to ``refresh_timeout`` seconds (pass
            ``asyncio.wait_for``; A/B give up after 60 s); ``None``: no bound.

    Raises:
        ValueError: ``auth`` holds neither an API key nor ChatGPT tokens.
    """

    def __init__(
        self,
        auth: AuthDotJson,
        *,
        transport: Transport,
        save: Save | None = None,
        token_url: str = REFRESH_TOKEN_URL,
        clock: Callable[[], datetime] = _utcnow,
        with_timeout: WithTimeout | None = None,
        refresh_timeout: float = 60.0,
    ) -> None:
        self.transport = transport
        self.token_url = token_url
        self.refresh_timeout = refresh_timeout
        self._save = save
        self._clock = clock
        self._with_timeout = with_timeout
        self._flight: _Flight | None = None
        self._auth = auth
        self._failed: RefreshTokenFailedError | None = None
        # Why the last refresh failed (a proactive one fails quietly), until one succeeds.
        self.last_refresh_error: ModelClientError | None = None
        self.replace(auth)

    def replace(self, auth: AuthDotJson) -> None:
        """Use new credentials (after a new sign-in); forgets a permanent refresh failure."""
        if auth.openai_api_key is None and auth.tokens is None:
            raise ValueError("auth.json holds neither OPENAI_API_KEY nor ChatGPT tokens")
        self._auth, self._failed, self.last_refresh_error = auth, None, None

    # -- the Auth protocol ------------------------------------------------------

    @property
    def auth(self) -> AuthDotJson:
        """The current credentials (refreshed tokens included)."""
        return self._auth

    @property
    def mode(self) -> Literal["apikey", "chatgpt"]:
        return "apikey" if self._auth.openai_api_key is not None else "chatgpt"

    @property
    def account_id(self) -> str | None:
        tokens = self._auth.tokens
        if self.mode != "chatgpt" or tokens is None:
            return None
        return tokens.account_id or tokens.id_token.chatgpt_account_id

    @property
    def plan_type(self) -> str | None:
        tokens = self._auth.tokens
        return tokens.id_token.chatgpt_plan_type if self.mode == "chatgpt" and tokens else None

    @property
    def email(self) -> str | None:
        tokens = self._auth.tokens
        return tokens.id_token.email if self.mode == "chatgpt" and tokens else None

    @property
    def can_refresh(self) -> bool:
        return self.mode == "chatgpt"

    def needs_refresh(self) -> bool:
        """Whether :meth:`token` refreshes first: ``last_refresh`` older than 8 days, or ``exp`` passed."""
        tokens = self._auth.tokens
        if self.mode != "chatgpt" or tokens is None:
            return False
        now = self._clock()
        last = self._auth.last_refresh
        if last is not None and last < now - TOKEN_REFRESH_INTERVAL:
            return True
        expiry = jwt_expiry(tokens.access_token)
        return expiry is not None and expiry <= now

    async def token(self) -> str | None:
        """The API key, or the access token (refreshed first when stale)."""
        if self._auth.openai_api_key is not None:
            return self._auth.openai_api_key
        if self._failed is None and self.needs_refresh():
            # C: on failure keep the current token; if it is really dead, the 401
            # path refreshes again and reports. The error stays in last_refresh_error.
            with contextlib.suppress(ModelClientError):
                await self._refresh_once()
        assert self._auth.tokens is not None  # replace() guarantees tokens in ChatGPT mode
        return self._auth.tokens.access_token

    async def refresh(self) -> None:
        """Refresh the ChatGPT tokens (after a 401); nothing to do for an API key.

        Raises:
            RefreshTokenFailedError: the endpoint refused the refresh token (401),
                now or on an earlier attempt: sign in again.
            RefreshTokenTransientError: any other failure; a later attempt may work.
        """
        if self.mode == "chatgpt":
            await self._refresh_once()

    # -- internals ----------------------------------------------------------------

    async def _refresh_once(self) -> None:
        # Join the refresh in flight, if any, and share its outcome; else run one.
        while (flight := self._flight) is not None:
            while not flight.done:
                await _yield_once()
            if not flight.abandoned:
                if flight.error is not None:
                    raise flight.error
                return
        flight = self._flight = _Flight()
        try:
            await self._refresh_now()
        except Exception as exc:
            flight.error = exc
            if isinstance(exc, ModelClientError):
                self.last_refresh_error = exc
            raise
        except BaseException:
            flight.abandoned = True  # cancelled: a waiter will run its own
            raise
        finally:
            flight.done = True
            self._flight = None

    async def _refresh_now(self) -> None:
        if self._failed is not None:
            raise self._failed  # that refresh token is dead; do not spend requests on it
        before = self._auth
        assert before.tokens is not None
        body = {
            "client_id": CLIENT_ID,
            "grant_type": "refresh_token",
            "refresh_token": before.tokens.refresh_token,
            "scope": REFRESH_SCOPE,
        }
        request = HttpRequest(
            "POST",
            self.token_url,
            {"Content-Type": "application/json"},
            json.dumps(body, separators=(",", ":")).encode(),
        )
        status, data = await self._exchange(request)
        if before is not self._auth:
            return  # replaced during the request: the new credentials win
        if status == 401:
            self._failed = classify_refresh_failure(data.decode("utf-8", "replace"))
            raise self._failed
        if not 200 <= status < 300:
            raise RefreshTokenTransientError(status, error_message(data.decode("utf-8", "replace")))
        id_token, access, refresh = _refresh_reply(data)
        # Each token the reply carries replaces the stored one; account_id stays.
        update: dict[str, Any] = {"id_token": id_token, "access_token": access, "refresh_token": refresh}
        tokens = before.tokens.model_copy(update={k: v for k, v in update.items() if v is not None})
        now = self._clock().astimezone(UTC)
        self._auth = before.model_copy(update={"tokens": tokens, "last_refresh": now})
        self.last_refresh_error = None
        if self._save is not None:
            await self._save(self._auth)

    async def _exchange(self, request: HttpRequest) -> tuple[int, bytes]:
        async def post() -> tuple[int, bytes]:
            response = await self.transport.send(request)
            return response.status, await response.aread()

        try:
            if self._with_timeout is None:
                return await post()
            result: tuple[int, bytes] = await self._with_timeout(post(), self.refresh_timeout)
            return result
        except TimeoutError:
            raise RefreshTokenTransientError(None, "timed out while refreshing OpenAI API key") from None
        except (ConnectionFailedError, StreamError) as exc:
            raise RefreshTokenTransientError(None, str(exc)) from exc

    def __repr__(self) -> str:
        # Never the key or the tokens.
        plan = self.plan_type
        return f"AuthManager(mode={self.mode!r}, account_id={self.account_id!r}, plan_type={plan!r})"
