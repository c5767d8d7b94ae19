"""The model client's one error tree.

Our exception hierarchy::

    ModelClientError
     ├── StreamError(message, delay)            retryable; the stream broke before
     │    │                                      `response.completed` (`CodexErr::Stream`)
     │    └── IdleTimeoutError                   no SSE event within the idle timeout
     ├── ConnectionFailedError(message)         retryable; the request never got a response
     ├── InternalServerError                    retryable; HTTP 500 after the retries
     ├── RetryLimitError(status, request_id)    retryable; 429/5xx still failing after retries
     ├── UnexpectedStatusError(status, body, request_id)   retryable; any other status
     │    └── UnauthorizedError                 fatal; 401 with nothing left to refresh
     ├── ContextWindowExceededError             fatal
     ├── UsageLimitReachedError(plan_type, resets_at, rate_limits)   fatal (ChatGPT plans)
     ├── UsageNotIncludedError                  fatal
     ├── QuotaExceededError                     fatal (API billing)
     ├── ServerOverloadedError                  fatal; 503 `server_is_overloaded`/`slow_down`
     ├── InvalidRequestError(message)           fatal; HTTP 400
     ├── RefreshTokenFailedError(reason)        fatal; the token endpoint refused the ChatGPT
     │                                           refresh token (401): sign in again
     └── RefreshTokenTransientError(status, message)   retryable; the refresh failed otherwise

"retryable" is the turn-level ("stream") retry of spec §6.3: whether re-sending the
whole request can help. A's rule retries everything but the usage/context errors; we
also stop on the later fatal kinds (quota B, overloaded / invalid request / 401 C).

``str(err)`` is the Rust ``Display`` text (spec §6.6) with "Codex" replaced by
"SidePy" where the product names itself; the texts that need logic are built in
``_error_text``. Every error has ``to_json()`` (``kind``, ``message``,
``retryable``, ``fields``; JSON-safe: datetimes as ISO 8601 strings, timedeltas
as float seconds) and :func:`error_from_json` rebuilds it on the other side of
the message bus. A failed HTTP response is mapped onto this tree by
``_classify.classify_http_error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self

from ._error_text import format_status, retry_limit_text, unexpected_status_text, usage_limit_text
from ._ratelimits import RateLimitSnapshot

__all__ = [
    "ConnectionFailedError",
    "ContextWindowExceededError",
    "IdleTimeoutError",
    "InternalServerError",
    "InvalidRequestError",
    "ModelClientError",
    "QuotaExceededError",
    "RefreshTokenFailedError",
    "RefreshTokenTransientError",
    "RetryLimitError",
    "ServerOverloadedError",
    "StreamError",
    "UnauthorizedError",
    "UnexpectedStatusError",
    "UsageLimitReachedError",
    "UsageNotIncludedError",
    "error_from_json",
]

_ERROR_KINDS: dict[str, type[ModelClientError]] = {}


class ModelClientError(Exception):
    """Base of every error the model client raises or yields. Not raised itself."""

    kind: ClassVar[str] = ""
    retryable: ClassVar[bool] = False
    """Whether the turn-level retry (spec §6.3) may re-send the request."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _ERROR_KINDS[cls.kind] = cls

    def __init__(self, message: str) -> None:
        if type(self) is ModelClientError:
            raise TypeError("ModelClientError is abstract; raise one of its subclasses")
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def retry_delay(self) -> timedelta | None:
        """The delay the server asked for before a retry, if any."""
        return None

    def fields(self) -> dict[str, Any]:
        """The error's own data, JSON-safe (overridden by errors that carry any)."""
        return {}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        """Rebuild the error from :meth:`fields` output."""
        return cls()  # type: ignore[call-arg]

    def to_json(self) -> dict[str, Any]:
        """``{"kind", "message", "retryable", "fields"}``, ready for ``json.dumps``."""
        return {
            "kind": self.kind,
            "message": str(self),
            "retryable": self.retryable,
            "fields": self.fields(),
        }

    def __reduce__(self) -> tuple[Any, ...]:
        # Custom __init__ signatures break Exception's default pickling.
        return (error_from_json, (self.to_json(),))


def error_from_json(data: Mapping[str, Any]) -> ModelClientError:
    """Rebuild an error from :meth:`ModelClientError.to_json` output.

    Raises:
        ValueError: ``data["kind"]`` names no error of this tree, or its fields
            are missing or mistyped.
    """
    kind = data.get("kind")
    cls = _ERROR_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown model client error kind: {kind!r}")
    try:
        return cls.from_fields(data.get("fields") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed {kind} error: {exc!r}") from exc


def _seconds(delay: timedelta | None) -> float | None:
    return None if delay is None else delay.total_seconds()


# ---------------------------------------------------------------------------
# Stream and transport
# ---------------------------------------------------------------------------


class StreamError(ModelClientError):
    """The SSE stream failed after the HTTP handshake but before ``response.completed``.

    Fields:
        message: what went wrong, e.g. the ``response.failed`` error message.
        delay: the wait the server asked for ("try again in 1.2s"), else ``None``.
    """

    kind = "stream"
    retryable = True

    def __init__(self, message: str, delay: timedelta | None = None) -> None:
        self.message = message
        self.delay = delay
        super().__init__(f"stream disconnected before completion: {message}")

    @property
    def retry_delay(self) -> timedelta | None:
        return self.delay

    def fields(self) -> dict[str, Any]:
        return {"message": self.message, "delay": _seconds(self.delay)}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        delay = fields.get("delay")
        return cls(str(fields.get("message", "")), None if delay is None else timedelta(seconds=delay))


class IdleTimeoutError(StreamError):
    """No SSE event arrived within the idle timeout (default 300 s, spec §3.2)."""

    kind = "idle_timeout"

    def __init__(self) -> None:
        super().__init__("idle timeout waiting for SSE", None)

    def fields(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        return cls()


class ConnectionFailedError(ModelClientError):
    """The request could not be sent or no response arrived (DNS, TLS, reset, offline).

    Fields:
        message: the transport's own description of the failure.
    """

    kind = "connection_failed"
    retryable = True

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(f"Connection failed: {message}")

    def fields(self) -> dict[str, Any]:
        return {"message": self.message}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        return cls(str(fields.get("message", "")))


# ---------------------------------------------------------------------------
# HTTP status errors
# ---------------------------------------------------------------------------


class InternalServerError(ModelClientError):
    """HTTP 500, still failing after the request-level retries."""

    kind = "internal_server_error"
    retryable = True

    def __init__(self) -> None:
        super().__init__("We're currently experiencing high demand, which may cause temporary errors.")


class RetryLimitError(ModelClientError):
    """A retryable status (429, 5xx) was still returned after the last request retry.

    Fields:
        status: the last HTTP status.
        request_id: the server's request id (``x-request-id``, ``x-oai-request-id``,
            else ``cf-ray``), if sent.
    """

    kind = "retry_limit"
    # A retries this at turn level too (C does not, but C also stopped retrying
    # 429 per request; we keep A's pairing).
    retryable = True

    def __init__(self, status: int, request_id: str | None = None) -> None:
        self.status = status
        self.request_id = request_id
        super().__init__(retry_limit_text(status, request_id))

    def fields(self) -> dict[str, Any]:
        return {"status": self.status, "request_id": self.request_id}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        return cls(int(fields["status"]), fields.get("request_id"))


class UnexpectedStatusError(ModelClientError):
    """Any other failed HTTP status (403, 404, 409, …), with the full response body.

    Fields:
        status: the HTTP status.
        body: the response body as text.
        request_id: the server's request id, if sent.
    """

    kind = "unexpected_status"
    retryable = True  # A and C both retry these at turn level

    def __init__(self, status: int, body: str, request_id: str | None = None) -> None:
        self.status = status
        self.body = body
        self.request_id = request_id
        super().__init__(unexpected_status_text(status, body, request_id))

    def fields(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body, "request_id": self.request_id}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        return cls(int(fields["status"]), str(fields.get("body", "")), fields.get("request_id"))


class UnauthorizedError(UnexpectedStatusError):
    """HTTP 401 and no credential left to refresh: a wrong, revoked or expired key.

    Fields: as :class:`UnexpectedStatusError`, with ``status`` always 401.
    """

    kind = "unauthorized"
    retryable = False

    def __init__(self, body: str = "", request_id: str | None = None) -> None:
        super().__init__(401, body, request_id)

    def fields(self) -> dict[str, Any]:
        return {"body": self.body, "request_id": self.request_id}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        return cls(str(fields.get("body", "")), fields.get("request_id"))


class InvalidRequestError(ModelClientError):
    """HTTP 400: the server rejected the request itself; re-sending cannot help.

    Also (ours) an in-stream ``error`` event saying ``invalid_request_error`` /
    ``invalid_prompt``; then ``body`` is the event's data.

    Fields:
        message: ``error.message`` from the body, else the whole body.
        body: the response body as text.
        request_id: the server's request id, if sent.
    """

    kind = "invalid_request"

    def __init__(self, message: str, body: str = "", request_id: str | None = None) -> None:
        self.message = message
        self.body = body
        self.request_id = request_id
        super().__init__(message)

    def fields(self) -> dict[str, Any]:
        return {"message": self.message, "body": self.body, "request_id": self.request_id}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        return cls(str(fields.get("message", "")), str(fields.get("body", "")), fields.get("request_id"))


class ServerOverloadedError(ModelClientError):
    """HTTP 503 with ``server_is_overloaded`` / ``slow_down`` (C's ``ServerOverloaded``)."""

    kind = "server_overloaded"

    def __init__(self) -> None:
        super().__init__("Selected model is at capacity. Please try a different model.")


# ---------------------------------------------------------------------------
# Usage, quota and context
# ---------------------------------------------------------------------------


class ContextWindowExceededError(ModelClientError):
    """The conversation no longer fits the model's context window."""

    kind = "context_window_exceeded"

    def __init__(self) -> None:
        super().__init__(
            "SidePy ran out of room in the model's context window. Start a new "
            "conversation or clear earlier history before retrying."
        )


class UsageNotIncludedError(ModelClientError):
    """The signed-in ChatGPT plan does not include this product's usage."""

    kind = "usage_not_included"

    def __init__(self) -> None:
        super().__init__(
            "To use SidePy with your ChatGPT plan, upgrade to Plus: https://openai.com/chatgpt/pricing."
        )


class QuotaExceededError(ModelClientError):
    """``insufficient_quota``: the API account is out of credit (fatal since B)."""

    kind = "quota_exceeded"

    def __init__(self) -> None:
        super().__init__("Quota exceeded. Check your plan and billing details.")


KNOWN_PLAN_TYPES = frozenset({"free", "plus", "pro", "team", "business", "enterprise", "edu"})
"""A's ``KnownPlan`` spellings; any other string is ``PlanType::Unknown`` and kept as is."""


class UsageLimitReachedError(ModelClientError):
    """HTTP 429 ``usage_limit_reached``: the ChatGPT plan's usage window is used up.

    Fields:
        plan_type: ``free``/``plus``/``pro``/``team``/``business``/``enterprise``/
            ``edu``, another string (kept verbatim), or ``None``.
        resets_at: when the limit resets (aware UTC datetime), if known (B).
        rate_limits: the snapshot parsed from the 429's headers (A).
        resets_in_seconds: seconds until the reset as of the response (A).

    The text follows A, "try again in {duration}"; B's "try again at {time}"
    only when ``resets_in_seconds`` is unknown (``_error_text.usage_limit_text``).
    """

    kind = "usage_limit_reached"

    def __init__(
        self,
        plan_type: str | None = None,
        resets_at: datetime | None = None,
        rate_limits: RateLimitSnapshot | None = None,
        *,
        resets_in_seconds: int | None = None,
    ) -> None:
        self.plan_type = plan_type
        self.resets_at = resets_at
        self.rate_limits = rate_limits
        self.resets_in_seconds = resets_in_seconds
        super().__init__(usage_limit_text(plan_type, resets_in_seconds, resets_at))

    @property
    def retry_delay(self) -> timedelta | None:
        """Time until the limit resets, if known (a hint for the UI, not a retry)."""
        if self.resets_in_seconds is None:
            return None
        return timedelta(seconds=self.resets_in_seconds)

    def fields(self) -> dict[str, Any]:
        return {
            "plan_type": self.plan_type,
            "resets_at": None if self.resets_at is None else self.resets_at.isoformat(),
            "resets_in_seconds": self.resets_in_seconds,
            "rate_limits": None if self.rate_limits is None else self.rate_limits.to_json(),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        resets_at = fields.get("resets_at")
        rate_limits = fields.get("rate_limits")
        return cls(
            fields.get("plan_type"),
            None if resets_at is None else datetime.fromisoformat(resets_at),
            None if rate_limits is None else RateLimitSnapshot.from_json(rate_limits),
            resets_in_seconds=fields.get("resets_in_seconds"),
        )


# ---------------------------------------------------------------------------
# ChatGPT token refresh (B's `RefreshTokenError`, spec §8.3)
# ---------------------------------------------------------------------------

REFRESH_TOKEN_FAILED_MESSAGES = {
    "expired": "Your access token could not be refreshed because your refresh token has expired. "
    "Please log out and sign in again.",
    "exhausted": "Your access token could not be refreshed because your refresh token was already "
    "used. Please log out and sign in again.",
    "revoked": "Your access token could not be refreshed because your refresh token was revoked. "
    "Please log out and sign in again.",
    "other": "Your access token could not be refreshed. Please log out and sign in again.",
}
"""Rust's ``RefreshTokenFailedReason`` (lower-cased) → its message (B, ``c4ebe4b0``)."""


class RefreshTokenFailedError(ModelClientError):
    """The token endpoint answered 401: the refresh token is dead; only a new sign-in helps.

    B's ``RefreshTokenError::Permanent`` / ``CodexErr::RefreshTokenFailed``.

    Fields:
        reason: ``"expired"`` (``refresh_token_expired``), ``"exhausted"``
            (``refresh_token_reused``), ``"revoked"`` (``refresh_token_invalidated``)
            or ``"other"``.
        message: the reason's Rust text unless given.
    """

    kind = "refresh_token_failed"

    def __init__(self, reason: str = "other", message: str | None = None) -> None:
        self.reason = reason if reason in REFRESH_TOKEN_FAILED_MESSAGES else "other"
        self.message = REFRESH_TOKEN_FAILED_MESSAGES[self.reason] if message is None else message
        super().__init__(self.message)

    def fields(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        message = fields.get("message")
        return cls(str(fields.get("reason", "other")), None if message is None else str(message))


class RefreshTokenTransientError(ModelClientError):
    """The token refresh failed in a way a later attempt may not (5xx, network, bad reply).

    B's ``RefreshTokenError::Transient``, surfaced as the retryable ``CodexErr::Io``.

    Fields:
        status: the token endpoint's HTTP status, or ``None`` (no usable response).
        message: the body's ``error.message``, else the body, else what went wrong.
    """

    kind = "refresh_token_transient"
    retryable = True

    def __init__(self, status: int | None, message: str) -> None:
        self.status = status
        self.message = message
        where = "" if status is None else f"{format_status(status)}: "
        super().__init__(f"Failed to refresh token: {where}{message}")

    def fields(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        status = fields.get("status")
        return cls(None if status is None else int(status), str(fields["message"]))
