"""The model client's one error tree, and the mapping of failed HTTP responses onto it.

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
     └── InvalidRequestError(message)           fatal; HTTP 400

"retryable" is the turn-level ("stream") retry of spec §6.3: whether re-sending the
whole request can help. A's rule retries everything but the usage/context errors; we
also stop on the later fatal kinds (quota B, overloaded / invalid request / 401 C).

``str(err)`` is the Rust ``Display`` text (spec §6.6) with "Codex" replaced by
"SidePy" where the product names itself. Every error has ``to_json()`` (``kind``,
``message``, ``retryable``, ``fields``; JSON-safe: datetimes as ISO 8601 strings,
timedeltas as float seconds) and :func:`error_from_json` rebuilds it on the other
side of the message bus. :func:`classify_http_error` is pure: status, headers and
body in, one of the errors above out; the clock it needs for ``resets_at`` is
injected.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self

from ._ratelimits import HeadersLike, RateLimitSnapshot, header_str, normalize_headers
from ._ratelimits import parse_rate_limits as _parse_rate_limits

__all__ = [
    "ConnectionFailedError",
    "ContextWindowExceededError",
    "IdleTimeoutError",
    "InternalServerError",
    "InvalidRequestError",
    "ModelClientError",
    "QuotaExceededError",
    "RetryLimitError",
    "ServerOverloadedError",
    "StreamError",
    "UnauthorizedError",
    "UnexpectedStatusError",
    "UsageLimitReachedError",
    "UsageNotIncludedError",
    "classify_http_error",
    "error_from_json",
    "format_status",
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

# The `http` crate's canonical reasons: `StatusCode`'s Display is "{code} {reason}".
# Python's HTTPStatus phrases differ (413, 414, 416, 422) and change between
# versions, and Pyodide runs a newer Python than CPython CI.
_REASONS = {
    100: "Continue", 101: "Switching Protocols", 102: "Processing",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non Authoritative Information",
    204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
    208: "Already Reported", 226: "IM Used",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict",
    410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Payload Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    416: "Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a teapot",
    421: "Misdirected Request", 422: "Unprocessable Entity", 423: "Locked",
    424: "Failed Dependency", 426: "Upgrade Required", 428: "Precondition Required",
    429: "Too Many Requests", 431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
    510: "Not Extended", 511: "Network Authentication Required",
}  # fmt: skip


def format_status(status: int) -> str:
    """``429`` → ``"429 Too Many Requests"``, as Rust's ``StatusCode`` displays."""
    return f"{status} {_REASONS.get(status, '<unknown status code>')}"


def _request_id_suffix(request_id: str | None) -> str:
    return "" if request_id is None else f", request id: {request_id}"


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
        super().__init__(
            f"exceeded retry limit, last status: {format_status(status)}{_request_id_suffix(request_id)}"
        )

    def fields(self) -> dict[str, Any]:
        return {"status": self.status, "request_id": self.request_id}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        return cls(int(fields["status"]), fields.get("request_id"))


_CLOUDFLARE_BLOCKED = (
    "Access blocked by Cloudflare. This usually happens when connecting from a restricted region"
)


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
        super().__init__(self._display())

    def _display(self) -> str:
        suffix = _request_id_suffix(self.request_id)
        # B: a Cloudflare block page is a 403 whose HTML says so; say it plainly.
        if self.status == 403 and "Cloudflare" in self.body and "blocked" in self.body:
            return f"{_CLOUDFLARE_BLOCKED} (status {format_status(self.status)}){suffix}"
        return f"unexpected status {format_status(self.status)}: {self.body}{suffix}"

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


def _format_reset_duration(total_secs: int) -> str:
    # A's `format_reset_duration`: non-zero days/hours/minutes, seconds dropped.
    days, rest = divmod(total_secs, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts = [
        f"{n} {unit if n == 1 else unit + 's'}"
        for n, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
        if n > 0
    ]
    return " ".join(parts) if parts else "less than a minute"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _format_reset_at(resets_at: datetime) -> str:
    # B's long form `%b %-d{st|nd|rd|th}, %Y %-I:%M %p`, in UTC (see class docstring).
    t = resets_at.astimezone(UTC)
    day = t.day
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    hour12 = t.hour % 12 or 12
    ampm = "AM" if t.hour < 12 else "PM"
    return f"{_MONTHS[t.month - 1]} {day}{suffix}, {t.year} {hour12}:{t.minute:02d} {ampm} UTC"


class UsageLimitReachedError(ModelClientError):
    """HTTP 429 ``usage_limit_reached``: the ChatGPT plan's usage window is used up.

    Fields:
        plan_type: ``free``/``plus``/``pro``/``team``/``business``/``enterprise``/
            ``edu``, another string (kept verbatim), or ``None``.
        resets_at: when the limit resets (aware UTC datetime), if known (B).
        rate_limits: the snapshot parsed from the 429's headers (A).
        resets_in_seconds: seconds until the reset as of the response (A).

    The text follows A: it says "try again in {duration}" from
    ``resets_in_seconds`` (:func:`classify_http_error` always fills it when the
    body gives either reset field). Only when an error is built without it does
    the text fall back to B's "try again at {time}", written in UTC with the
    date, because ``str()`` must not read the clock or the worker's time zone.
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
        super().__init__(self._display())

    @property
    def retry_delay(self) -> timedelta | None:
        """Time until the limit resets, if known (a hint for the UI, not a retry)."""
        if self.resets_in_seconds is None:
            return None
        return timedelta(seconds=self.resets_in_seconds)

    def _when(self) -> str | None:
        if self.resets_in_seconds is not None:
            return f"in {_format_reset_duration(self.resets_in_seconds)}"
        if self.resets_at is not None:
            return f"at {_format_reset_at(self.resets_at)}"
        return None

    def _display(self) -> str:
        when = self._when()
        suffix = f" Try again {when}." if when else " Try again later."
        suffix_or = f" or try again {when}." if when else " or try again later."
        head = "You've hit your usage limit."
        match self.plan_type:
            case "plus":
                return f"{head} Upgrade to Pro (https://openai.com/chatgpt/pricing){suffix_or}"
            case "team" | "business":
                return f"{head} To get more access now, send a request to your admin{suffix_or}"
            case "free":
                return (
                    f"{head} Upgrade to Plus to continue using SidePy (https://openai.com/chatgpt/pricing)."
                )
            case _:  # pro, enterprise, edu, unknown plans and no plan
                return f"{head}{suffix}"

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
# Classification of failed HTTP responses
# ---------------------------------------------------------------------------


def _body_text(body: str | bytes) -> str:
    # reqwest's `text()` decodes lossily; so do we.
    return body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body


def _error_object(body: str) -> dict[str, Any]:
    """``body["error"]`` when the body is ``{"error": {...}}``, else ``{}``."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else {}


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _opt_int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _request_id(headers: Mapping[str, str]) -> str | None:
    # A used `cf-ray` only; C prefers the API's own ids. Support asks for those.
    for name in ("x-request-id", "x-oai-request-id", "cf-ray"):
        value = header_str(headers, name)
        if value:
            return value
    return None


def _utc_from_unix(seconds: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _usage_limit_reached(
    error: Mapping[str, Any],
    headers: Mapping[str, str],
    plan_type: str | None,
    now: Callable[[], float],
) -> UsageLimitReachedError:
    resets_in = _opt_int(error, "resets_in_seconds")  # A (u64)
    if resets_in is not None and resets_in < 0:
        resets_in = None
    resets_at_unix = _opt_int(error, "resets_at")  # B (i64 unix seconds)
    resets_at = None if resets_at_unix is None else _utc_from_unix(resets_at_unix)
    # Fill whichever reset field the body left out, from the injected clock, so
    # the error carries both (A's text needs the duration, the UI the instant).
    if resets_in is None and resets_at_unix is not None and resets_at is not None:
        resets_in = max(0, math.floor(resets_at_unix - now()))
    elif resets_at is None and resets_in is not None:
        resets_at = _utc_from_unix(now() + resets_in)
    return UsageLimitReachedError(
        _opt_str(error, "plan_type") or plan_type,
        resets_at,
        _parse_rate_limits(headers),
        resets_in_seconds=resets_in,
    )


def classify_http_error(
    status: int,
    headers: HeadersLike,
    body: str | bytes,
    *,
    plan_type: str | None = None,
    now: Callable[[], float] = time.time,
) -> ModelClientError:
    """Map a failed HTTP response to the error to surface (spec §6.2, §6.4).

    This is the **final** error: for a status the request-level retry would
    retry (429, 5xx) it is what remains once the retries are spent —
    ``RetryLimitError`` as in A/B, ``InternalServerError`` for 500, and C's
    ``ServerOverloadedError`` for a 503 saying ``server_is_overloaded`` or
    ``slow_down``. Whether to retry first is :class:`modelclient._retry.RetryPolicy`'s
    decision.

    Args:
        status: the HTTP status; must not be 2xx.
        headers: the response headers, names in any case.
        body: the response body (bytes are decoded as UTF-8, lossily).
        plan_type: the plan from the ID token, used when a usage-limit body has none.
        now: clock (unix seconds) used to derive the missing reset field.

    Raises:
        ValueError: ``status`` is a 2xx success.
    """
    if 200 <= status < 300:
        raise ValueError(f"HTTP {status} is not an error")
    h = normalize_headers(headers)
    text = _body_text(body)
    error = _error_object(text)
    request_id = _request_id(h)
    error_type = _opt_str(error, "type")
    error_code = _opt_str(error, "code")

    if status == 401:
        return UnauthorizedError(text, request_id)
    if status == 429:
        if error_type == "usage_limit_reached":
            return _usage_limit_reached(error, h, plan_type, now)
        if error_type == "usage_not_included":
            return UsageNotIncludedError()
        if error_code == "insufficient_quota":  # B (0c647bc5): fatal, not a rate limit
            return QuotaExceededError()
        return RetryLimitError(status, request_id)
    if status == 400:
        return InvalidRequestError(_opt_str(error, "message") or text, text, request_id)
    if status == 500:
        return InternalServerError()
    if status == 503 and error_code in ("server_is_overloaded", "slow_down"):  # C
        return ServerOverloadedError()
    if status >= 500:
        return RetryLimitError(status, request_id)
    return UnexpectedStatusError(status, text, request_id)
