"""The mock's ChatGPT sign-in: an OAuth token endpoint and the ChatGPT backend's token check.

Codex signed in with ChatGPT sends ``Authorization: Bearer <access token>`` and
``chatgpt-account-id`` to ``chatgpt.com/backend-api/codex``, and refreshes its
tokens at ``auth.openai.com/oauth/token``. :class:`OAuthMock` plays
both parts:

- ``POST /oauth/token`` (at the root, not under the API prefix) is the refresh
  exchange. It checks the body Codex sends (JSON with ``client_id``,
  ``grant_type: refresh_token`` and the refresh token), then rotates every
  token. The old refresh token is spent: presenting it again gets 401
  ``refresh_token_reused``, as on the live endpoint. Outcomes queued with
  :meth:`OAuthMock.enqueue` answer the next exchanges instead.
- The backend check is on once :meth:`OAuthMock.sign_in` ran: ``/responses``
  and ``/models`` then want the current, unexpired access token (else 401 with
  the backend's ``{"detail": "Unauthorized"}``) and the signed-in account's
  ``chatgpt-account-id`` (else 403, ours). :meth:`OAuthMock.expire_access_token`
  makes the current token fail until a refresh replaces it.

Tokens are unsigned JWTs (``alg: none``) carrying the claims Codex reads. The
``refresh_token_reused`` and ``token_expired`` texts are the live endpoint's, as
quoted in public bug reports; the other two texts are made up.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["CLIENT_ID", "REFRESH_OUTCOMES", "OAuthMock", "make_jwt"]

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
"""Codex's OAuth client id; the endpoint refuses any other."""

AUTH_CLAIM = "https://api.openai.com/auth"


def _oauth_error(message: str, code: str | None, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


_FAILURES: dict[str, tuple[int, dict[str, Any]]] = {
    "expired": (401, _oauth_error(
        "Your refresh token has expired. Please try signing in again.", "refresh_token_expired")),
    "reused": (401, _oauth_error(
        "Your refresh token has already been used to generate a new access token. "
        "Please try signing in again.", "refresh_token_reused")),
    "invalidated": (401, _oauth_error(
        "Your refresh token has been invalidated. Please try signing in again.",
        "refresh_token_invalidated")),
    "unknown": (401, _oauth_error(
        "Could not validate your token. Please try signing in again.", "token_expired")),
    "server_error": (500, _oauth_error(
        "The server had an error while processing your request. Sorry about that!", None,
        "server_error")),
}  # fmt: skip

REFRESH_OUTCOMES = ("tokens", "tokens_without_id_token", *_FAILURES)
"""What :meth:`OAuthMock.enqueue` accepts: a normal rotation, one whose reply has
no ``id_token`` (allowed since late Oct 2025), 401 with ``refresh_token_expired`` /
``_reused`` / ``_invalidated`` / an unknown code, or a 500."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: Mapping[str, Any]) -> str:
    """An unsigned JWT (``alg: none``) carrying ``claims``."""
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64url(json.dumps(claims).encode())}.{_b64url(b'mock-signature')}"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class OAuthMock:
    """ChatGPT sign-in state of one mock server; thread-safe (see ``MockServerThread``).

    Args:
        account_id, plan_type, email: the signed-in account, as the id token says.
        access_ttl: lifetime of an access token, in seconds.
        clock: now, in unix seconds (token ``exp``/``iat`` and the expiry check).
    """

    def __init__(
        self,
        *,
        account_id: str = "7f3e1c2a-5b8d-4e6f-9a01-2b3c4d5e6f70",
        plan_type: str = "plus",
        email: str = "user@example.com",
        access_ttl: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account_id = account_id
        self.plan_type = plan_type
        self.email = email
        self.access_ttl = access_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Sign out: no tokens, backend check off, nothing queued."""
        with self._lock:
            self.backend_check = False
            self._serial = 0
            self._access: str | None = None
            self._access_exp = 0.0
            self._refresh: str | None = None
            self._spent: set[str] = set()
            self._queue: list[str] = []
            self.refreshes = 0  # successful exchanges since sign-in

    # -- test controls ----------------------------------------------------------------------

    def sign_in(
        self, *, last_refresh: datetime | str | None = None, access_expired: bool = False
    ) -> dict[str, Any]:
        """Start a session (fresh tokens, backend check on) and return its ``auth.json`` object.

        ``last_refresh`` defaults to now; ``access_expired`` issues an access token
        whose ``exp`` has already passed (a client should refresh it before use).
        """
        with self._lock:
            self.backend_check = True
            self._spent.clear()
            self._queue.clear()
            self.refreshes = 0
            id_token = self._rotate(expired=access_expired)
            assert self._access is not None and self._refresh is not None
            if last_refresh is None:
                last_refresh = datetime.fromtimestamp(self._clock(), UTC)
            stamp = last_refresh if isinstance(last_refresh, str) else _rfc3339(last_refresh)
            tokens = {
                "id_token": id_token,
                "access_token": self._access,
                "refresh_token": self._refresh,
                "account_id": self.account_id,
            }
            return {"OPENAI_API_KEY": None, "tokens": tokens, "last_refresh": stamp}

    def expire_access_token(self) -> None:
        """Refuse the current access token from now on (until a refresh issues a new one)."""
        with self._lock:
            self._access_exp = float("-inf")

    def enqueue(self, *outcomes: str) -> None:
        """Answer the next token exchanges with these outcomes (see :data:`REFRESH_OUTCOMES`)."""
        unknown = [o for o in outcomes if o not in REFRESH_OUTCOMES]
        if unknown:
            raise ValueError(f"unknown refresh outcome(s) {unknown}; known: {', '.join(REFRESH_OUTCOMES)}")
        with self._lock:
            self._queue.extend(outcomes)

    @property
    def access_token(self) -> str | None:
        """The access token the backend accepts now."""
        with self._lock:
            return self._access

    @property
    def refresh_token(self) -> str | None:
        """The refresh token the endpoint exchanges now."""
        with self._lock:
            return self._refresh

    @property
    def pending(self) -> list[str]:
        """Queued outcomes not used yet."""
        with self._lock:
            return list(self._queue)

    def status(self) -> dict[str, Any]:
        """A JSON-ready view for ``POST /_mock/oauth``."""
        with self._lock:
            return {
                "backend_check": self.backend_check, "access_token": self._access,
                "refresh_token": self._refresh, "account_id": self.account_id,
                "refreshes": self.refreshes, "pending": list(self._queue),
            }  # fmt: skip

    def control(self, obj: Any) -> dict[str, Any]:
        """Apply a ``POST /_mock/oauth`` body; return :meth:`status` (plus ``auth_json``).

        Keys, applied in this order: ``sign_in`` (``true`` or
        ``{"last_refresh", "access_expired"}``), ``expire_access_token`` (bool),
        ``enqueue`` (a list of outcomes), ``backend_check`` (bool).

        Raises:
            ValueError: an unknown key or a value of the wrong type.
        """
        if not isinstance(obj, Mapping):
            raise ValueError("body must be a JSON object")
        unknown = set(obj) - {"sign_in", "expire_access_token", "enqueue", "backend_check"}
        if unknown:
            raise ValueError(f"unknown oauth keys: {', '.join(sorted(unknown))}")
        # Check everything before changing anything: a refused body changes nothing.
        outcomes = obj.get("enqueue") or []
        if not isinstance(outcomes, list) or not all(o in REFRESH_OUTCOMES for o in outcomes):
            raise ValueError(f"'enqueue' must be a list of: {', '.join(REFRESH_OUTCOMES)}")
        sign_in = obj.get("sign_in")
        options = dict(sign_in) if isinstance(sign_in, Mapping) else {}
        if set(options) - {"last_refresh", "access_expired"}:
            raise ValueError("'sign_in' takes last_refresh (RFC 3339 text) and access_expired")
        if not isinstance(options.get("last_refresh", ""), str):
            raise ValueError("'sign_in.last_refresh' must be RFC 3339 text")
        auth_json = self.sign_in(**options) if sign_in else None
        if obj.get("expire_access_token"):
            self.expire_access_token()
        self.enqueue(*outcomes)
        if "backend_check" in obj:
            with self._lock:
                self.backend_check = bool(obj["backend_check"])
        status = self.status()
        if auth_json is not None:
            status["auth_json"] = auth_json
        return status

    # -- the two server roles ---------------------------------------------------------------

    def exchange(self, body: bytes) -> tuple[int, dict[str, Any], str]:
        """``POST /oauth/token``: ``(status, JSON body, label for the request record)``."""
        with self._lock:
            if self._queue:
                outcome = self._queue.pop(0)
                if outcome in _FAILURES:
                    status, payload = _FAILURES[outcome]
                    return status, payload, f"oauth:{outcome}"
            else:
                outcome = "tokens"
            try:
                request = json.loads(body)
            except ValueError:
                request = None
            if (
                not isinstance(request, dict)
                or request.get("client_id") != CLIENT_ID
                or request.get("grant_type") != "refresh_token"
                or not isinstance(request.get("refresh_token"), str)
            ):
                message = "Expected a JSON body with client_id, grant_type=refresh_token and refresh_token."
                return 400, _oauth_error(message, "invalid_request"), "oauth:invalid_request"
            presented = request["refresh_token"]
            if presented in self._spent:
                status, payload = _FAILURES["reused"]
                return status, payload, "oauth:reused"
            if presented != self._refresh:
                status, payload = _FAILURES["unknown"]
                return status, payload, "oauth:unknown"
            self._spent.add(presented)
            id_token = self._rotate(expired=False)
            self.refreshes += 1
            reply: dict[str, Any] = {"access_token": self._access, "refresh_token": self._refresh}
            if outcome != "tokens_without_id_token":
                reply = {"id_token": id_token, **reply}
            reply.update(token_type="Bearer", expires_in=int(self.access_ttl))
            return 200, reply, f"oauth:{outcome}"

    def check(self, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]] | None:
        """The backend's check of a request's headers: ``None`` to let it through, else the refusal."""
        with self._lock:
            if not self.backend_check:
                return None
            auth = headers.get("Authorization") or headers.get("authorization") or ""
            token = auth[7:] if auth[:7].lower() == "bearer " else None
            if token is None or token != self._access or self._clock() >= self._access_exp:
                return 401, {"detail": "Unauthorized"}
            account = headers.get("chatgpt-account-id") or headers.get("ChatGPT-Account-ID")
            if account != self.account_id:
                return 403, {"detail": "chatgpt-account-id does not match the signed-in account"}
            return None

    def _rotate(self, *, expired: bool) -> str:
        # New access, refresh and id tokens; the caller holds the lock.
        self._serial += 1
        now = self._clock()
        self._access_exp = now - 60 if expired else now + self.access_ttl
        auth = {"chatgpt_account_id": self.account_id, "chatgpt_plan_type": self.plan_type}
        self._access = make_jwt({
            "iat": int(now), "exp": int(self._access_exp), "jti": f"at_{self._serial}", AUTH_CLAIM: auth,
        })
        self._refresh = f"rt_mock_{self._serial}_{int(now)}"
        return make_jwt({"email": self.email, "iat": int(now), AUTH_CLAIM: auth})
