"""The model client's one error tree.

Our exception hierarchy::

    ModelClientError
     ├── StreamError(message, delay)            retryable; the stream broke before
     │    │                                      `response.completed` (`CodexErr::Stream`)
     │    └── IdleTimeoutError                   no SSE event within the idle timeout
     ├── ConnectionFailedError(message)         retryable; no response (refused, reset,
     │                                           offline, or no headers within the timeout)
     ├── InternalServerError(message)           retryable; HTTP 500 after the retries
     ├── RetryLimitError(status, request_id, message, delay)   retryable; 429/5xx still
     │                                           failing after retries
     ├── UnexpectedStatusError(status, body, request_id, message, url)   any other status;
     │    │                                      retryable only for 408/409
     │    └── UnauthorizedError                 fatal; 401 with nothing left to refresh
     ├── ContextWindowExceededError             fatal
     ├── UsageLimitReachedError(plan_type, resets_at, rate_limits)   fatal (ChatGPT plans)
     ├── UsageNotIncludedError                  fatal
     ├── QuotaExceededError                     fatal (API billing)
     ├── ServerOverloadedError                  fatal; `server_is_overloaded`/`slow_down`
     ├── InvalidRequestError(message)           fatal; HTTP 400, `invalid_prompt`
     ├── InvalidImageRequestError               fatal; HTTP 400 "not a valid image"
     ├── CyberPolicyError(message)              fatal; `cyber_policy`
     ├── RefreshTokenFailedError(reason)        fatal; the token endpoint refused the ChatGPT
     │                                           refresh token (401): sign in again
     └── RefreshTokenTransientError(status, message)   retryable; the refresh failed otherwise

``retryable`` is the turn-level retry: whether re-sending the whole request can
help. Rust A retried everything but the usage and context errors; we also stop on
every kind a later Rust version made fatal (quota, overloaded, invalid request,
invalid image, cyber policy) and on 4xx statuses that no re-send can change (401,
403, 404, …); ``docs/rust-parity.md`` lists each choice.

``str(err)`` is the Rust ``Display`` text. Where Codex names itself, the error
names the product given as ``product`` (the client's ``product`` argument), or
none. The texts that need logic are built in ``_error_text``. Every error has
``to_json()`` (``kind``, ``message``, ``retryable``, ``fields``; JSON-safe:
datetimes as ISO 8601 strings, timedeltas as float seconds) and
:func:`error_from_json` rebuilds it on the other side of a message bus. A failed
HTTP response is mapped onto this tree by ``_classify.classify_http_error``.

The base class and its JSON registry are in ``_error_base``, the token refresh's
two errors in ``_auth_errors``; this module re-exports both, so ``__all__`` below
is the whole tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Self

from ._auth_errors import RefreshTokenFailedError, RefreshTokenTransientError
from ._error_base import ModelClientError, error_from_json
from ._error_text import (
    cloudflare_blocked_text,
    context_window_text,
    is_cloudflare_block,
    retry_limit_text,
    server_message,
    unexpected_status_text,
    usage_limit_text,
    usage_not_included_text,
)
from ._ratelimits import RateLimitSnapshot

__all__ = [
    "ConnectionFailedError",
    "ContextWindowExceededError",
    "CyberPolicyError",
    "IdleTimeoutError",
    "InternalServerError",
    "InvalidImageRequestError",
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
    """No SSE event arrived within the idle timeout (default 300 s)."""

    kind = "idle_timeout"

    def __init__(self) -> None:
        super().__init__("idle timeout waiting for SSE", None)

    def fields(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        return cls()


class ConnectionFailedError(ModelClientError):
    """The request could not be sent or no response arrived (DNS, TLS, reset, offline,
    or no response headers within the provider's ``connect_timeout_ms``).

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


_HIGH_DEMAND = "We're currently experiencing high demand, which may cause temporary errors."


class InternalServerError(ModelClientError):
    """HTTP 500, still failing after the request-level retries.

    Fields:
        message: the server's own message (``error.message``, or a short plain-text
            body), if it sent one. Without it the text is Rust's "high demand"
            sentence; with it, the server's words (a self-hosted server's 500 is
            rarely about demand).
    """

    kind = "internal_server_error"
    retryable = True

    def __init__(self, message: str | None = None) -> None:
        self.message = message
        super().__init__(f"Internal server error: {message}" if message else _HIGH_DEMAND)

    def fields(self) -> dict[str, Any]:
        return {"message": self.message}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        return cls(fields.get("message"))


class RetryLimitError(ModelClientError):
    """A retryable status (429, 5xx) was still returned after the last request retry.

    Fields:
        status: the last HTTP status.
        request_id: the server's request id (``x-request-id``, ``x-oai-request-id``,
            else ``cf-ray``), if sent.
        message: the server's own message, if the last response carried one.
        delay: the wait the last response asked for (``Retry-After``, or the body's
            "try again in …"); the turn-level retry waits it before re-sending.
    """

    kind = "retry_limit"
    # A retries this at turn level too (C does not, but C also stopped retrying
    # 429 per request; we keep A's pairing, bounded by the per-turn attempt cap).
    retryable = True

    def __init__(
        self,
        status: int,
        request_id: str | None = None,
        message: str | None = None,
        delay: timedelta | None = None,
    ) -> None:
        self.status = status
        self.request_id = request_id
        self.message = message
        self.delay = delay
        super().__init__(retry_limit_text(status, request_id, message))

    @property
    def retry_delay(self) -> timedelta | None:
        return self.delay

    def fields(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "request_id": self.request_id,
            "message": self.message,
            "delay": _seconds(self.delay),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        delay = fields.get("delay")
        return cls(
            int(fields["status"]),
            fields.get("request_id"),
            fields.get("message"),
            None if delay is None else timedelta(seconds=delay),
        )


#: Statuses a re-send may fix (the openai SDK retries the same ones): a request
#: timeout, and a conflict with a concurrent request.
RETRYABLE_STATUSES = frozenset({408, 409})


class UnexpectedStatusError(ModelClientError):
    """Any other failed HTTP status (403, 404, 409, …).

    The text shows the server's ``message`` (C's layout), never a whole HTML page;
    ``body`` keeps the full text for a "Details" view.

    Fields:
        status: the HTTP status.
        body: the response body as text.
        request_id: the server's request id, if sent.
        message: the server's words: ``error.message`` from a JSON body, else a
            summary of the body (an HTML page's title, or the text trimmed to 1000
            bytes), else ``None``; derived from ``body`` when not given.
        url: the URL that answered, so a wrong base URL (404) shows where it went.

    ``retryable`` (turn level) only for 408 and 409: re-sending to a wrong URL,
    without permission, or with a request the server refused cannot help.
    """

    kind = "unexpected_status"

    def __init__(
        self,
        status: int,
        body: str,
        request_id: str | None = None,
        message: str | None = None,
        url: str | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.request_id = request_id
        self.message = server_message(body) if message is None else message
        self.url = url
        self.retryable = status in RETRYABLE_STATUSES
        if is_cloudflare_block(status, body):
            text = cloudflare_blocked_text(status, request_id)
        else:
            text = unexpected_status_text(status, self.message, url, request_id)
        super().__init__(text)

    def fields(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "body": self.body,
            "request_id": self.request_id,
            "message": self.message,
            "url": self.url,
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        return cls(
            int(fields["status"]),
            str(fields.get("body", "")),
            fields.get("request_id"),
            fields.get("message"),
            fields.get("url"),
        )


class UnauthorizedError(UnexpectedStatusError):
    """HTTP 401 and no credential left to refresh: a wrong, revoked or expired key.

    Fields: as :class:`UnexpectedStatusError`, with ``status`` always 401.
    """

    kind = "unauthorized"

    def __init__(
        self,
        body: str = "",
        request_id: str | None = None,
        message: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(401, body, request_id, message, url)

    def fields(self) -> dict[str, Any]:
        return {"body": self.body, "request_id": self.request_id, "message": self.message, "url": self.url}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        return cls(
            str(fields.get("body", "")), fields.get("request_id"), fields.get("message"), fields.get("url")
        )


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
    """``server_is_overloaded`` / ``slow_down``: an HTTP 503 or a ``response.failed``
    (C's ``ServerOverloaded``)."""

    kind = "server_overloaded"

    def __init__(self) -> None:
        super().__init__("Selected model is at capacity. Please try a different model.")


class InvalidImageRequestError(ModelClientError):
    """HTTP 400 "The image data you provided does not represent a valid image" (C).

    C answers it by replacing the images of the last turn and re-sending; a
    library cannot edit its caller's history, so it says what to do instead.
    """

    kind = "invalid_image_request"

    def __init__(self) -> None:
        super().__init__(
            "The server could not read an image in this conversation as a valid image. "
            "Remove the image (or attach it again as PNG or JPEG) and send again."
        )


CYBER_POLICY_DEFAULT = "This request has been flagged for possible cybersecurity risk."


class CyberPolicyError(ModelClientError):
    """``cyber_policy``: the server refused the request as a possible cybersecurity risk (C).

    Fields:
        message: the server's message, or C's default sentence when it sent none.
    """

    kind = "cyber_policy"

    def __init__(self, message: str | None = None) -> None:
        self.message = message if message and message.strip() else CYBER_POLICY_DEFAULT
        super().__init__(self.message)

    def fields(self) -> dict[str, Any]:
        return {"message": self.message}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        return cls(fields.get("message"))


# ---------------------------------------------------------------------------
# Usage, quota and context
# ---------------------------------------------------------------------------


class ContextWindowExceededError(ModelClientError):
    """The conversation no longer fits the model's context window.

    Fields:
        product: the product named in the text (Codex's "Codex ran out of room…"), or ``None``.
    """

    kind = "context_window_exceeded"

    def __init__(self, product: str | None = None) -> None:
        self.product = product
        super().__init__(context_window_text(product))

    def fields(self) -> dict[str, Any]:
        return {"product": self.product}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        return cls(fields.get("product"))


class UsageNotIncludedError(ModelClientError):
    """The signed-in ChatGPT plan does not include this product's usage.

    Fields:
        product: the product named in the text, or ``None``.
    """

    kind = "usage_not_included"

    def __init__(self, product: str | None = None) -> None:
        self.product = product
        super().__init__(usage_not_included_text(product))

    def fields(self) -> dict[str, Any]:
        return {"product": self.product}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        return cls(fields.get("product"))


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
        product: the product named in the free plan's text, or ``None``.

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
        product: str | None = None,
    ) -> None:
        self.plan_type = plan_type
        self.resets_at = resets_at
        self.rate_limits = rate_limits
        self.resets_in_seconds = resets_in_seconds
        self.product = product
        super().__init__(usage_limit_text(plan_type, resets_in_seconds, resets_at, product))

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
            "product": self.product,
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
            product=fields.get("product"),
        )
